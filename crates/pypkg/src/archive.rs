//! Archive writers that lay out bytes exactly as CPython's `zipfile` and `tarfile` (PAX
//! format) + `gzip` do when hatchling drives them, so the only difference from a hatchling
//! build is the deflate stream itself (this crate uses zlib-rs, CPython uses zlib; both are
//! valid DEFLATE, the compressed bytes differ).
//!
//! Zip ([APPNOTE]): no data descriptors, no extra fields, version made by 2.0 on Unix,
//! version needed 2.0, method 8 (deflate, level 6), UTF-8 flag only for non-ASCII names.
//! Tar: POSIX.1-2001 ustar headers with `ustar\000` magic, a `././@PaxHeader` record only
//! for long or non-ASCII names, two zero blocks, padded to 10240 bytes; gzip with a fixed
//! header mtime, no file name, OS 255 (level 9 as the backends write it with [`gzip`], or
//! the level given to [`gzip_level`]; sdists use 6 by default, see
//! [`crate::BuildOptions::sdist_gzip_level`]).
//!
//! [APPNOTE]: https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT

use std::io::Write;

use flate2::Compression;

/// A UTC calendar time, second precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Year, e.g. 2020.
    pub year: i64,
    /// 1..=12.
    pub month: u32,
    /// 1..=31.
    pub day: u32,
    /// 0..=23.
    pub hour: u32,
    /// 0..=59.
    pub minute: u32,
    /// 0..=59.
    pub second: u32,
}

impl DateTime {
    /// The UTC time of `epoch` seconds since 1970-01-01 (proleptic Gregorian).
    pub fn from_epoch(epoch: i64) -> DateTime {
        let days = epoch.div_euclid(86_400);
        let secs = epoch.rem_euclid(86_400);
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        DateTime {
            year: if m <= 2 { y + 1 } else { y },
            month: m,
            day: d,
            hour: (secs / 3600) as u32,
            minute: (secs % 3600 / 60) as u32,
            second: (secs % 60) as u32,
        }
    }

    /// MS-DOS (time, date) words; years before 1980 are clamped to 1980-01-01 00:00:00
    /// (zip cannot store them; CPython would refuse).
    pub fn dos(&self) -> (u16, u16) {
        if self.year < 1980 {
            return (0, (1 << 5) | 1);
        }
        let year = self.year.min(2107) as u16;
        let time =
            ((self.hour as u16) << 11) | ((self.minute as u16) << 5) | (self.second as u16 / 2);
        let date = ((year - 1980) << 9) | ((self.month as u16) << 5) | self.day as u16;
        (time, date)
    }
}

/// A wheel being written: a [`ZipWriter`] that keeps the wheel's `RECORD` ([PEP 376],
/// [PEP 427]) as it goes, the one writer of the three backends (hatchling, flit_core,
/// uv_build). Each file added gets the row `name,sha256=<urlsafe base64, no padding>,size`
/// as Python's `csv.writer` writes it; directory entries get none; [`WheelWriter::finish`]
/// adds `RECORD` itself last, listing itself with an empty hash and size. Every member has
/// the DOS time given to [`WheelWriter::new`].
///
/// [PEP 376]: https://peps.python.org/pep-0376/
/// [PEP 427]: https://peps.python.org/pep-0427/
#[derive(Debug)]
pub struct WheelWriter {
    zip: ZipWriter,
    record: String,
    dos: (u16, u16),
}

impl WheelWriter {
    /// An empty wheel whose members are dated `dos` (time, date; see [`DateTime::dos`]).
    pub fn new(dos: (u16, u16)) -> Self {
        WheelWriter {
            zip: ZipWriter::new(),
            record: String::new(),
            dos,
        }
    }

    /// Adds file `name` holding `data` with `unix_mode` (see [`ZipWriter::add`]), and its
    /// RECORD row.
    pub fn add(&mut self, name: &str, data: &[u8], unix_mode: u32) {
        self.zip.add(name, data, unix_mode, self.dos);
        self.record.push_str(&crate::record_row([
            name,
            &format!("sha256={}", crate::record_hash(data)),
            &data.len().to_string(),
        ]));
    }

    /// Adds a directory entry `name` (ending with `/`); RECORD lists files only.
    pub fn add_directory(&mut self, name: &str, unix_mode: u32) {
        self.zip.add_directory(name, unix_mode, self.dos);
    }

    /// Writes `{dist_info}/RECORD` with `unix_mode` and returns the wheel's bytes.
    pub fn finish(mut self, dist_info: &str, unix_mode: u32) -> Vec<u8> {
        let name = format!("{dist_info}/RECORD");
        self.record.push_str(&crate::record_row([&name, "", ""]));
        self.zip
            .add(&name, self.record.as_bytes(), unix_mode, self.dos);
        self.zip.finish()
    }
}

/// An in-memory zip archive written as CPython's `zipfile.ZipFile(..., ZIP_DEFLATED)`.
#[derive(Debug, Default)]
pub struct ZipWriter {
    out: Vec<u8>,
    central: Vec<u8>,
    entries: u16,
}

fn deflate(data: &[u8], level: u32) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), Compression::new(level));
    enc.write_all(data).expect("writing to memory");
    enc.finish().expect("writing to memory")
}

impl ZipWriter {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a deflated member `name` holding `data`, with `unix_mode` stored as the external
    /// attributes' high 16 bits (e.g. `0o100644` for a file copied from disk, `0o644` for a
    /// generated one, as hatchling stores them) and modification time `dos` (time, date).
    pub fn add(&mut self, name: &str, data: &[u8], unix_mode: u32, dos: (u16, u16)) {
        let compressed = deflate(data, 6);
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let (crc, size) = (crc.sum(), data.len() as u32);
        self.push_entry(name, 8, crc, &compressed, size, unix_mode, dos);
    }

    /// Adds a directory entry `name` (ending in `/`) as the `zip` crate's `add_directory`
    /// writes it (uv_build's wheels have them): stored, empty, CRC 0, `unix_mode` (e.g.
    /// `0o40755`) as the external attributes' high 16 bits, modification time `dos`.
    pub fn add_directory(&mut self, name: &str, unix_mode: u32, dos: (u16, u16)) {
        self.push_entry(name, 0, 0, &[], 0, unix_mode, dos);
    }

    /// Writes a local file header followed by `payload`, and the matching central directory
    /// header. `method` is the compression method (8 deflated, 0 stored), `crc` and `size`
    /// those of the uncompressed data.
    #[allow(clippy::too_many_arguments)]
    fn push_entry(
        &mut self,
        name: &str,
        method: u16,
        crc: u32,
        payload: &[u8],
        size: u32,
        unix_mode: u32,
        dos: (u16, u16),
    ) {
        let flags: u16 = if name.is_ascii() { 0 } else { 0x800 };
        let offset = self.out.len() as u32;
        let name_b = name.as_bytes();
        let common = |b: &mut Vec<u8>| {
            b.extend_from_slice(&flags.to_le_bytes());
            b.extend_from_slice(&method.to_le_bytes());
            b.extend_from_slice(&dos.0.to_le_bytes());
            b.extend_from_slice(&dos.1.to_le_bytes());
            b.extend_from_slice(&crc.to_le_bytes());
            b.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            b.extend_from_slice(&size.to_le_bytes());
            b.extend_from_slice(&(name_b.len() as u16).to_le_bytes());
            b.extend_from_slice(&0u16.to_le_bytes());
        };
        // Local file header.
        self.out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        self.out.extend_from_slice(&20u16.to_le_bytes());
        common(&mut self.out);
        self.out.extend_from_slice(name_b);
        self.out.extend_from_slice(payload);
        // Central directory header.
        let c = &mut self.central;
        c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        c.extend_from_slice(&[20, 3]); // made by: 2.0, Unix
        c.extend_from_slice(&20u16.to_le_bytes());
        common(c);
        c.extend_from_slice(&0u16.to_le_bytes()); // comment length
        c.extend_from_slice(&0u16.to_le_bytes()); // disk number
        c.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        c.extend_from_slice(&(unix_mode << 16).to_le_bytes());
        c.extend_from_slice(&offset.to_le_bytes());
        c.extend_from_slice(name_b);
        self.entries += 1;
    }

    /// The finished archive bytes.
    pub fn finish(mut self) -> Vec<u8> {
        let cd_offset = self.out.len() as u32;
        let cd_size = self.central.len() as u32;
        self.out.extend_from_slice(&self.central);
        self.out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        self.out.extend_from_slice(&[0, 0, 0, 0]);
        self.out.extend_from_slice(&self.entries.to_le_bytes());
        self.out.extend_from_slice(&self.entries.to_le_bytes());
        self.out.extend_from_slice(&cd_size.to_le_bytes());
        self.out.extend_from_slice(&cd_offset.to_le_bytes());
        self.out.extend_from_slice(&0u16.to_le_bytes());
        self.out
    }
}

const BLOCK: usize = 512;
const RECORD: usize = 20 * BLOCK;

/// An in-memory tar stream written as CPython's `tarfile` in `PAX_FORMAT` writes regular
/// files with uid/gid 0 and empty user/group names (hatchling's reproducible sdist).
#[derive(Debug, Default)]
pub struct TarWriter {
    out: Vec<u8>,
}

fn octal(n: u64, digits: usize) -> Vec<u8> {
    let mut v = format!("{:0width$o}", n, width = digits - 1).into_bytes();
    v.push(0);
    v
}

fn padded(s: &[u8], len: usize) -> Vec<u8> {
    let mut v = s[..s.len().min(len)].to_vec();
    v.resize(len, 0);
    v
}

fn header(name: &[u8], mode: u32, size: u64, mtime: u64, typeflag: u8) -> Vec<u8> {
    let mut h = Vec::with_capacity(BLOCK);
    h.extend(padded(name, 100));
    h.extend(octal(u64::from(mode & 0o7777), 8));
    h.extend(octal(0, 8)); // uid
    h.extend(octal(0, 8)); // gid
    h.extend(octal(size, 12));
    h.extend(octal(mtime, 12));
    h.extend_from_slice(b"        ");
    h.push(typeflag);
    h.extend([0u8; 100]); // linkname
    h.extend_from_slice(b"ustar\x0000");
    h.extend([0u8; 32]); // uname
    h.extend([0u8; 32]); // gname
    h.extend([0u8; 16]); // devmajor, devminor: empty for non-device members
    h.extend([0u8; 155]); // prefix
    h.resize(BLOCK, 0);
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    let chk = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(chk.as_bytes());
    h
}

impl TarWriter {
    /// An empty stream.
    pub fn new() -> Self {
        Self::default()
    }

    fn payload(&mut self, data: &[u8]) {
        self.out.extend_from_slice(data);
        let rem = data.len() % BLOCK;
        if rem != 0 {
            self.out.resize(self.out.len() + BLOCK - rem, 0);
        }
    }

    /// Adds regular file `name` (full archive path) with permission bits `mode` (e.g.
    /// `0o644`) and `mtime` (seconds since the epoch). Names over 100 bytes or not ASCII get
    /// a PAX `path` record first, as CPython writes it.
    pub fn add(&mut self, name: &str, data: &[u8], mode: u32, mtime: u64) {
        if !name.is_ascii() || name.len() > 100 {
            let kw = "path";
            let l = kw.len() + name.len() + 3;
            let mut p = 0usize;
            let n = loop {
                let n = l + p.to_string().len();
                if n == p {
                    break n;
                }
                p = n;
            };
            let record = format!("{n} {kw}={name}\n");
            let h = header(b"././@PaxHeader", 0, record.len() as u64, 0, b'x');
            self.out.extend(h);
            self.payload(record.as_bytes());
        }
        // CPython encodes the ustar name as ASCII with "replace" (then truncates to 100).
        let ascii: Vec<u8> = name
            .chars()
            .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
            .collect();
        self.out
            .extend(header(&ascii, mode, data.len() as u64, mtime, b'0'));
        self.payload(data);
    }

    /// The finished, uncompressed tar bytes: two zero blocks, padded to a 10240-byte record.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.resize(self.out.len() + 2 * BLOCK, 0);
        let rem = self.out.len() % RECORD;
        if rem != 0 {
            self.out.resize(self.out.len() + RECORD - rem, 0);
        }
        self.out
    }
}

/// gzip ([RFC 1952]) of `data` as CPython's `gzip.GzipFile(fileobj=.., mtime=mtime)` writes
/// it: level 9 (XFL 2), no file name, OS 255.
///
/// [RFC 1952]: https://www.rfc-editor.org/rfc/rfc1952
pub fn gzip(data: &[u8], mtime: u32) -> Vec<u8> {
    gzip_level(data, mtime, 9)
}

/// [`gzip`] at compression `level` (1 fastest … 9 smallest, the backends' choice; values
/// outside 1..=9 are clamped). The header's XFL byte follows the level (2 for 9, 4 for 1).
pub fn gzip_level(data: &[u8], mtime: u32, level: u32) -> Vec<u8> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(mtime)
        .operating_system(255)
        .write(Vec::new(), Compression::new(level.clamp(1, 9)));
    enc.write_all(data).expect("writing to memory");
    enc.finish().expect("writing to memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_to_calendar_and_dos() {
        let d = DateTime::from_epoch(1_580_601_600);
        assert_eq!((d.year, d.month, d.day, d.hour), (2020, 2, 2, 0));
        let d = DateTime::from_epoch(951_782_399); // 2000-02-28 23:59:59
        assert_eq!(
            (d.year, d.month, d.day, d.hour, d.minute, d.second),
            (2000, 2, 28, 23, 59, 59)
        );
        assert_eq!(DateTime::from_epoch(0).dos(), (0, 33));
        assert_eq!(
            DateTime::from_epoch(1_580_601_600).dos(),
            (0, (40 << 9) | (2 << 5) | 2)
        );
    }

    #[test]
    fn gzip_header_is_fixed() {
        let g = gzip(b"x", 1_580_601_600);
        assert_eq!(
            &g[..10],
            &[0x1f, 0x8b, 8, 0, 0x00, 0x11, 0x36, 0x5e, 2, 255]
        );
    }

    #[test]
    fn long_tar_names_get_a_pax_record() {
        let mut t = TarWriter::new();
        let long = format!("p-1/{}", "a".repeat(120));
        t.add(&long, b"hi", 0o644, 0);
        let out = t.finish();
        assert_eq!(&out[..14], b"././@PaxHeader");
        assert_eq!(out[156], b'x');
        let rec = format!("{} path={long}\n", long.len() + 10);
        assert!(
            String::from_utf8_lossy(&out[512..1024]).starts_with(&rec),
            "{rec}"
        );
        assert_eq!(out.len() % RECORD, 0);
    }
}
