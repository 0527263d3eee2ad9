//! The engine interfaces and the engine-independent arithmetic every engine shares
//! (pooling, batching), so two engines given the same token ids agree by construction
//! except for the network itself.

use crate::error::Result;

/// Sentence embeddings, batched. An engine tokenizes (padding to the longest text of a
/// batch, truncating to the model's maximum), runs the network with the attention mask,
/// mean-pools the states of the real tokens and L2-normalises — what
/// sentence-transformers does for all-MiniLM-L6-v2.
///
/// Implementations: `CandleSentenceEncoder` (feature `candle`); a libtorch engine slots
/// in the same way. Implementations must be usable from several blocking threads.
pub trait SentenceEncoder: Send + Sync {
    /// One vector of [`SentenceEncoder::dimension`] values per text, in input order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
    /// Length of each embedding (384 for all-MiniLM-L6-v2).
    fn dimension(&self) -> usize;
    /// The engine's name: `candle`, `rust-bert`, …
    fn engine(&self) -> &'static str;
    /// Identifies the weights: model name and a digest of `model.safetensors`.
    fn model_id(&self) -> &str;
}

/// A fine-tuned sequence-classification checkpoint: class probabilities (softmax over
/// the checkpoint's own classes, in class-id order), batched like [`SentenceEncoder`].
pub trait SequenceClassifierEngine: Send + Sync {
    fn class_probabilities(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
    fn engine(&self) -> &'static str;
    fn model_id(&self) -> &str;
}

/// Default number of texts per forward pass. Texts are sorted by length first, so a
/// batch pads to similar lengths; larger batches gain little on two cores.
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// Mean of the token states whose mask is non-zero, then (when `normalize`) divided by
/// its L2 norm — sentence-transformers' `Pooling(mean)` + `Normalize`, with the same
/// guards (token count clamped to ≥ 1e-9, norm to ≥ 1e-12).
///
/// `states` holds `mask.len()` rows of `dimension` values (one padded sequence).
pub fn mean_pool(states: &[f32], mask: &[u32], dimension: usize, normalize: bool) -> Vec<f32> {
    debug_assert_eq!(states.len(), mask.len() * dimension);
    let mut sum = vec![0f32; dimension];
    let mut count = 0f32;
    for (row, &keep) in states.chunks_exact(dimension).zip(mask) {
        if keep == 0 {
            continue;
        }
        count += 1.0;
        for (total, value) in sum.iter_mut().zip(row) {
            *total += value;
        }
    }
    let count = count.max(1e-9);
    for value in &mut sum {
        *value /= count;
    }
    if normalize {
        l2_normalize(&mut sum);
    }
    sum
}

/// Divides by the L2 norm (clamped to ≥ 1e-12, as `torch.nn.functional.normalize`).
pub fn l2_normalize(vector: &mut [f32]) {
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
    for value in vector {
        *value /= norm;
    }
}

/// Cosine similarity (0 when either vector is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm_a = a.iter().map(|v| v * v).sum::<f32>().sqrt();
    let norm_b = b.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm_a == 0.0 || norm_b == 0.0 {
        0.0
    } else {
        dot / (norm_a * norm_b)
    }
}

/// Groups input positions into batches of at most `batch_size`, longest texts first,
/// so each batch pads to nearly equal lengths. Every position appears exactly once.
pub fn length_sorted_batches(lengths: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    // Stable: equal lengths keep input order, so results do not depend on sort details.
    order.sort_by_key(|&index| std::cmp::Reverse(lengths[index]));
    order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

/// Softmax of one row of logits (uniform when they are not finite).
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|value| (value - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    if !(sum.is_finite() && sum > 0.0) {
        return vec![1.0 / logits.len().max(1) as f32; logits.len()];
    }
    exp.into_iter().map(|value| value / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_pool_ignores_padding_and_normalises() {
        // Two real tokens and one padding token, dimension 2.
        let states = [1.0, 3.0, 3.0, 1.0, 100.0, 100.0];
        let pooled = mean_pool(&states, &[1, 1, 0], 2, false);
        assert_eq!(pooled, vec![2.0, 2.0]);
        let pooled = mean_pool(&states, &[1, 1, 0], 2, true);
        let half_sqrt2 = std::f32::consts::FRAC_1_SQRT_2;
        assert!((pooled[0] - half_sqrt2).abs() < 1e-6);
        assert!((pooled[1] - half_sqrt2).abs() < 1e-6);
        // All padding: zeros, not NaN.
        assert_eq!(mean_pool(&states, &[0, 0, 0], 2, true), vec![0.0, 0.0]);
    }

    #[test]
    fn batches_cover_every_position_once() {
        let lengths = [3, 10, 1, 7, 7, 2];
        let batches = length_sorted_batches(&lengths, 4);
        assert_eq!(batches, vec![vec![1, 3, 4, 0], vec![5, 2]]);
        assert_eq!(length_sorted_batches(&[], 4), Vec::<Vec<usize>>::new());
        assert_eq!(length_sorted_batches(&[1, 2], 0), vec![vec![1], vec![0]]);
    }

    #[test]
    fn softmax_and_cosine() {
        let p = softmax(&[1000.0, 0.0]);
        assert!((p[0] - 1.0).abs() < 1e-6);
        assert!(softmax(&[f32::NAN, 1.0]).iter().all(|v| v.is_finite()));
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }
}
