//! The kernel's page cache for files the platform writes in bulk: writing a range back without a
//! full sync, and dropping a range that will not be read again. On systems without these
//! calls both do nothing, and the final sync or the kernel does the work.

use std::fs::File;

/// Writes back the dirty pages of a range and waits for them (Linux `sync_file_range`).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub fn write_back(file: &File, offset: u64, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    let (offset, len) = signed(offset, len)?;
    // SAFETY: the descriptor belongs to `file`, open for the whole call; no memory is passed.
    let rc = unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, flags) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Drops the clean cached pages of a range (`posix_fadvise(POSIX_FADV_DONTNEED)`). Pages still
/// dirty are only queued for write-back, so call it on a range already synced.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub fn drop_clean(file: &File, offset: u64, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let (offset, len) = signed(offset, len)?;
    // SAFETY: the descriptor belongs to `file`, open for the whole call; no memory is passed.
    let rc =
        unsafe { libc::posix_fadvise(file.as_raw_fd(), offset, len, libc::POSIX_FADV_DONTNEED) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(rc))
    }
}

#[cfg(target_os = "linux")]
fn signed(offset: u64, len: u64) -> std::io::Result<(i64, i64)> {
    Ok((
        i64::try_from(offset).map_err(std::io::Error::other)?,
        i64::try_from(len).map_err(std::io::Error::other)?,
    ))
}

#[cfg(not(target_os = "linux"))]
pub fn write_back(_file: &File, _offset: u64, _len: u64) -> std::io::Result<()> {
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn drop_clean(_file: &File, _offset: u64, _len: u64) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn written_back_and_dropped_ranges_keep_their_contents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = File::create(&path).unwrap();
        f.write_all(&[7u8; 3 * 4096]).unwrap();
        write_back(&f, 0, 3 * 4096).unwrap();
        drop_clean(&f, 0, 2 * 4096).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), vec![7u8; 3 * 4096]);
        if cfg!(target_os = "linux") {
            assert!(
                drop_clean(&f, u64::MAX, 1).is_err(),
                "an offset past i64 is refused"
            );
        }
    }
}
