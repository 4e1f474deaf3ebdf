//! `<service>.wasm.gz`: gunzip with a cap, so a small ConfigMap key cannot expand into
//! gigabytes (a "zip bomb") before the engine even looks at it.

use std::io::Read;

use flate2::read::MultiGzDecoder;

use super::PluginDirError;

/// The most a compressed plugin may expand to: far above a JavaScript plugin (≈ 12 MB) and
/// far below what would hurt the pod.
pub(crate) const MAX_DECOMPRESSED_BYTES: u64 = 64 * 1024 * 1024;

/// Decompresses `file`'s contents (every gzip member, as `gunzip` does), failing once the
/// output would exceed `limit` bytes.
pub(crate) fn gunzip(file: &str, compressed: &[u8], limit: u64) -> Result<Vec<u8>, PluginDirError> {
    let mut out = Vec::new();
    // One byte past the limit tells "exactly at the limit" from "over it".
    MultiGzDecoder::new(compressed)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|source| PluginDirError::Gzip {
            file: file.to_owned(),
            source,
        })?;
    if out.len() as u64 > limit {
        return Err(PluginDirError::TooLarge {
            file: file.to_owned(),
            limit_mib: limit >> 20,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn decompresses_up_to_the_limit() {
        let data = vec![7u8; 4096];
        assert_eq!(gunzip("a.wasm.gz", &gzip(&data), 4096).unwrap(), data);
    }

    #[test]
    fn refuses_output_over_the_limit() {
        let error = gunzip("a.wasm.gz", &gzip(&vec![0u8; 3 << 20]), 2 << 20).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a.wasm.gz decompresses to more than 2 MiB"
        );
    }

    #[test]
    fn reads_every_member() {
        let mut twice = gzip(b"ab");
        twice.extend(gzip(b"cd"));
        assert_eq!(gunzip("a.wasm.gz", &twice, 16).unwrap(), b"abcd");
    }

    #[test]
    fn refuses_what_is_not_gzip() {
        let error =
            gunzip("a.wasm.gz", b"\0asm\x0d\0\x01\0 a component, not gzip", 64).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a.wasm.gz is not valid gzip: invalid gzip header"
        );
    }
}
