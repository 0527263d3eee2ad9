//! With the `rust-bert` feature, records libtorch's folder as an rpath of this crate's
//! test, example and bench binaries, so they find `libtorch_cpu.so` without
//! `LD_LIBRARY_PATH`. The folder is the one torch-sys linked against (its `links = "tch"`
//! metadata, `DEP_TCH_LIBTORCH_LIB`), e.g. `<site-packages>/torch/lib` with
//! `LIBTORCH_USE_PYTORCH=1`. Binaries of other crates (the `vigil` daemon) need their
//! own rpath or `LD_LIBRARY_PATH`: a link argument applies only to the package whose
//! build script prints it.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_RUST_BERT").is_none() {
        return;
    }
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    }
}
