//! Hugging Face `tokenizer.json`, set up the way sentence-transformers runs it:
//! truncation to the model's maximum, no padding (batches are padded here, to the
//! longest text of each batch). Shared by every engine, so they see the same ids.

use std::path::Path;

use tokenizers::{PaddingParams, Tokenizer, TruncationParams, TruncationStrategy};

use crate::error::{Result, TransformerError};

/// Inputs are cut to this many characters per allowed token before tokenizing, so a
/// multi-megabyte post cannot stall the tokenizer; no real text needs more characters
/// than this to fill the token budget.
const CHARS_PER_TOKEN_CAP: usize = 64;

/// Token ids of one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizedText {
    pub ids: Vec<u32>,
    pub type_ids: Vec<u32>,
}

/// A batch padded to its longest text, row-major `rows × columns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaddedBatch {
    pub rows: usize,
    pub columns: usize,
    pub ids: Vec<u32>,
    pub type_ids: Vec<u32>,
    /// 1 for a real token, 0 for padding.
    pub mask: Vec<u32>,
}

pub struct TextTokenizer {
    tokenizer: Tokenizer,
    max_length: usize,
}

impl TextTokenizer {
    /// Loads `tokenizer.json`, replacing whatever truncation and padding it carries
    /// (all-MiniLM-L6-v2's file says 128 tokens and fixed padding to 128, while
    /// sentence-transformers truncates at 256 and pads to the longest).
    pub fn from_file(path: &Path, max_length: usize) -> Result<TextTokenizer> {
        if max_length < 3 {
            return Err(TransformerError::Tokenizer(format!(
                "maximum length {max_length} leaves no room for text"
            )));
        }
        let mut tokenizer = Tokenizer::from_file(path)
            .map_err(|error| TransformerError::Tokenizer(format!("{}: {error}", path.display())))?;
        tokenizer.with_padding(None::<PaddingParams>);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                ..TruncationParams::default()
            }))
            .map_err(|error| TransformerError::Tokenizer(error.to_string()))?;
        Ok(TextTokenizer {
            tokenizer,
            max_length,
        })
    }

    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Tokenizes each text, with the model's special tokens.
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<TokenizedText>> {
        let cap = self.max_length.saturating_mul(CHARS_PER_TOKEN_CAP);
        let inputs: Vec<&str> = texts.iter().map(|text| cut_chars(text, cap)).collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|error| TransformerError::Tokenizer(error.to_string()))?;
        Ok(encodings
            .into_iter()
            .map(|encoding| TokenizedText {
                ids: encoding.get_ids().to_vec(),
                type_ids: encoding.get_type_ids().to_vec(),
            })
            .collect())
    }
}

fn cut_chars(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// Pads `texts` to the longest with `pad_id` (type id 0, mask 0).
pub fn pad_batch(texts: &[&TokenizedText], pad_id: u32) -> PaddedBatch {
    let rows = texts.len();
    let columns = texts.iter().map(|text| text.ids.len()).max().unwrap_or(0);
    let mut batch = PaddedBatch {
        rows,
        columns,
        ids: vec![pad_id; rows * columns],
        type_ids: vec![0; rows * columns],
        mask: vec![0; rows * columns],
    };
    for (row, text) in texts.iter().enumerate() {
        let start = row * columns;
        let length = text.ids.len();
        batch.ids[start..start + length].copy_from_slice(&text.ids);
        batch.type_ids[start..start + length].copy_from_slice(&text.type_ids);
        batch.mask[start..start + length].fill(1);
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_the_longest() {
        let a = TokenizedText {
            ids: vec![101, 7, 102],
            type_ids: vec![0, 0, 0],
        };
        let b = TokenizedText {
            ids: vec![101, 102],
            type_ids: vec![0, 0],
        };
        let batch = pad_batch(&[&a, &b], 0);
        assert_eq!((batch.rows, batch.columns), (2, 3));
        assert_eq!(batch.ids, vec![101, 7, 102, 101, 102, 0]);
        assert_eq!(batch.mask, vec![1, 1, 1, 1, 1, 0]);
    }

    #[test]
    fn cuts_on_char_boundaries() {
        assert_eq!(cut_chars("héllo", 2), "hé");
        assert_eq!(cut_chars("hi", 5), "hi");
    }
}
