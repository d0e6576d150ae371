//! Builds the eBPF probe (crate `forkwatch-ebpf`) with the nightly toolchain and bpf-linker,
//! so `include_bytes_aligned!(concat!(env!("OUT_DIR"), "/forkwatch"))` can embed it.
use aya_build::{Package, Toolchain};

fn main() -> anyhow::Result<()> {
    // aya-build repeats every line the nested cargo prints as a cargo warning; errors still
    // come through when it is quiet.
    // SAFETY: the build script is single-threaded.
    unsafe { std::env::set_var("CARGO_TERM_QUIET", "true") };
    let probe = Package {
        name: "forkwatch-ebpf",
        root_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/ebpf"),
        ..Default::default()
    };
    aya_build::build_ebpf([probe], Toolchain::default())
}
