//! C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>): the log as static resources, `tile/<L>/<N>[.p/<W>]`
//! for the Merkle tree and `tile/entries/<N>[.p/<W>]` for the entries (`schemas/tiles-v1.md`).
//!
//! What this is: the pure part. Tile coordinates and their paths (§Merkle Tree: `<N>` in zero-padded
//! 3-digit elements, all but the last prefixed with `x`; `.p/<W>` for a partial tile), which stored
//! hashes make up a tile (a tile at level `l` lists the hashes of the subtrees of `256^l` records,
//! which relic stores at tree level `8l`: [`Tile::stored_hash_indexes`]), which tiles a tree of a
//! given size has (§Partial Tiles: [`tiles_of`]), and the entry bundle encoding (§Log entries:
//! big-endian uint16 length prefixes, [`entry_bundle`]). An entry is a record's exact bytes
//! (`schemas/record-v1.md`), so its RFC 6962 leaf hash is the one the tree already holds.
//!
//! What this is not: serving or writing them (`relic serve`'s `/tlog/`, `relic export --tiles`), or
//! reading stored hashes (a [`crate::merkle::HashReader`] does).

use crate::merkle::{self, Hash, HashReader};

/// Hashes (or entries) in a full tile: tiles have height 8.
pub const WIDTH: u64 = 256;
/// The longest entry an entry bundle can hold (its length prefix is a uint16).
pub const MAX_ENTRY: usize = u16::MAX as usize;
/// The highest level a tile path may name (§Merkle Tree: 0 to 63).
pub const MAX_LEVEL: u8 = 63;

/// A tile of the Merkle tree: `width` consecutive hashes (1 to 256; fewer than 256 is a partial
/// tile) at `level`, starting with hash `index · 256` of that level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub level: u8,
    pub index: u64,
    pub width: u16,
}

/// What a tile path names: a tile of hashes, or an entry bundle (`index`, `width` as for level 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Hashes(Tile),
    Entries { index: u64, width: u16 },
}

/// Why a path is not a tile path, or an entry cannot go in a bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    #[error("not a tile path: {0}")]
    Path(String),
    #[error("record {index} is {len} bytes: an entry bundle holds entries of at most 65535 bytes")]
    EntryTooLarge { index: u64, len: usize },
}

/// `<N>` as a path: zero-padded 3-digit elements, all but the last prefixed with `x`
/// (1234067 → `x001/x234/067`, 5 → `005`).
pub fn index_path(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

fn width_suffix(width: u16) -> String {
    if u64::from(width) == WIDTH {
        String::new()
    } else {
        format!(".p/{width}")
    }
}

impl Tile {
    /// `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        format!("tile/{}/{}{}", self.level, index_path(self.index), width_suffix(self.width))
    }

    /// The stored hash indexes (`schemas/merkle-v1.md`) of the tile's hashes, in order: the
    /// subtrees of `256^level` records at tree level `8 · level`.
    pub fn stored_hash_indexes(&self) -> Vec<u64> {
        let level = 8 * u32::from(self.level);
        (0..u64::from(self.width)).map(|i| merkle::stored_hash_index(level, self.index * WIDTH + i)).collect()
    }

    /// The tile's bytes: its hashes, concatenated.
    pub fn read<R: HashReader + ?Sized>(&self, r: &R) -> Result<Vec<u8>, merkle::ReadError> {
        Ok(r.read_hashes(&self.stored_hash_indexes())?.concat())
    }

    /// Whether a tree of `size` records determines this tile (its hashes are all of complete
    /// subtrees of that tree): every partial tile of a smaller tree is one.
    pub fn within(&self, size: u64) -> bool {
        let count = hashes_at(self.level, size);
        u64::from(self.width) >= 1 && u64::from(self.width) <= WIDTH && self.index.checked_mul(WIDTH).and_then(|s| s.checked_add(u64::from(self.width))).is_some_and(|end| end <= count)
    }
}

/// `tile/entries/<N>[.p/<W>]`.
pub fn entries_path(index: u64, width: u16) -> String {
    format!("tile/entries/{}{}", index_path(index), width_suffix(width))
}

/// How many hashes level `level` of a tree of `size` records has: `floor(size / 256^level)`.
fn hashes_at(level: u8, size: u64) -> u64 {
    let shift = 8 * u32::from(level);
    if shift >= 64 {
        0
    } else {
        size >> shift
    }
}

/// Parses what follows `tile/` in a tile path: `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`.
pub fn parse(path: &str) -> Result<Resource, TileError> {
    let bad = || TileError::Path(format!("tile/{path}"));
    let (level, rest) = path.split_once('/').ok_or_else(bad)?;
    let (index, width) = match rest.split_once(".p/") {
        Some((n, w)) => {
            let w = decimal(w).filter(|w| (1..WIDTH).contains(w)).ok_or_else(bad)?;
            (n, w as u16)
        }
        None => (rest, WIDTH as u16),
    };
    let mut n: u64 = 0;
    let elements: Vec<&str> = index.split('/').collect();
    for (i, e) in elements.iter().enumerate() {
        let last = i + 1 == elements.len();
        let digits = if last { *e } else { e.strip_prefix('x').ok_or_else(bad)? };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        n = n.checked_mul(1000).and_then(|n| n.checked_add(digits.parse::<u64>().ok()?)).ok_or_else(bad)?;
    }
    // No leading `x000/` elements: one path per index.
    if elements.len() > 1 && elements[0] == "x000" {
        return Err(bad());
    }
    if level == "entries" {
        return Ok(Resource::Entries { index: n, width });
    }
    let level = decimal(level).filter(|l| *l <= u64::from(MAX_LEVEL)).ok_or_else(bad)? as u8;
    Ok(Resource::Hashes(Tile { level, index: n, width }))
}

/// A decimal ASCII integer without leading zeros.
fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Every tile of a tree of `size` records (§Partial Tiles): at each level, its full tiles and, if
/// the level's count is not a multiple of 256, one partial tile; levels up to the first with no
/// hash. A tree of 70,000 records has 273 full and one partial (112) tile at level 0, one full and
/// one partial (17) at level 1, and one partial (1) at level 2.
pub fn tiles_of(size: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    for level in 0..=MAX_LEVEL {
        let count = hashes_at(level, size);
        if count == 0 {
            break;
        }
        for index in 0..count / WIDTH {
            out.push(Tile { level, index, width: WIDTH as u16 });
        }
        if count % WIDTH != 0 {
            out.push(Tile { level, index: count / WIDTH, width: (count % WIDTH) as u16 });
        }
    }
    out
}

/// An entry bundle: each entry preceded by its length as a big-endian uint16. `first` is the log
/// index of the first entry, for the error naming one that is too long.
pub fn entry_bundle<'a>(first: u64, entries: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>, TileError> {
    let mut out = Vec::new();
    for (i, e) in entries.into_iter().enumerate() {
        let len = u16::try_from(e.len()).map_err(|_| TileError::EntryTooLarge { index: first + i as u64, len: e.len() })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// The entries of a bundle, in order; `None` if its length prefixes do not add up.
pub fn split_bundle(bundle: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = bundle;
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<2>()?;
        let len = u16::from_be_bytes(*len) as usize;
        if tail.len() < len {
            return None;
        }
        out.push(&tail[..len]);
        rest = &tail[len..];
    }
    Some(out)
}

/// The leaf hashes of a bundle's entries (RFC 6962 §2.1), which the level-0 tile at the same
/// index lists.
pub fn leaf_hashes(entries: &[&[u8]]) -> Vec<Hash> {
    entries.iter().map(|e| merkle::leaf_hash(e)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_are_the_specs() {
        assert_eq!(index_path(1234067), "x001/x234/067");
        assert_eq!(index_path(0), "000");
        assert_eq!(index_path(5), "005");
        assert_eq!(index_path(1000), "x001/000");
        assert_eq!(Tile { level: 0, index: 1234067, width: 256 }.path(), "tile/0/x001/x234/067");
        assert_eq!(Tile { level: 2, index: 0, width: 1 }.path(), "tile/2/000.p/1");
        assert_eq!(entries_path(273, 112), "tile/entries/273.p/112");
        for t in [Tile { level: 0, index: 1234067, width: 256 }, Tile { level: 63, index: 0, width: 255 }, Tile { level: 1, index: 999, width: 17 }] {
            assert_eq!(parse(t.path().strip_prefix("tile/").unwrap()), Ok(Resource::Hashes(t)));
        }
        assert_eq!(parse("entries/x001/000.p/5"), Ok(Resource::Entries { index: 1000, width: 5 }));
    }

    #[test]
    fn malformed_paths_are_refused() {
        for p in ["", "0", "0/1", "0/0001", "0/x1/000", "01/000", "64/000", "0/000.p/0", "0/000.p/256", "0/000.p/01", "0/x000/001", "0/001/x002", "a/000", "0/000/", "entries/00a", "0/-01"] {
            assert!(parse(p).is_err(), "{p:?} was accepted");
        }
    }

    #[test]
    fn the_tiles_of_a_tree_are_the_specs_example() {
        let t = tiles_of(70_000);
        let at = |l: u8| t.iter().filter(|x| x.level == l).collect::<Vec<_>>();
        assert_eq!(at(0).len(), 274);
        assert_eq!(*at(0).last().unwrap(), &Tile { level: 0, index: 273, width: 112 });
        assert_eq!(at(1), [&Tile { level: 1, index: 0, width: 256 }, &Tile { level: 1, index: 1, width: 17 }]);
        assert_eq!(at(2), [&Tile { level: 2, index: 0, width: 1 }]);
        assert!(at(3).is_empty());
        assert_eq!(tiles_of(256), [Tile { level: 0, index: 0, width: 256 }, Tile { level: 1, index: 0, width: 1 }]);
        assert!(tiles_of(0).is_empty());
        assert!(Tile { level: 0, index: 273, width: 112 }.within(70_000));
        assert!(Tile { level: 0, index: 273, width: 100 }.within(70_000), "a partial tile of an earlier size");
        assert!(!Tile { level: 0, index: 273, width: 113 }.within(70_000));
        assert!(!Tile { level: 1, index: 1, width: 256 }.within(70_000));
    }

    #[test]
    fn tiles_hash_to_the_tree_head() {
        // A tree of 600 leaves: level-0 tiles hold the leaf hashes, and the level-1 tiles' hashes
        // are the heads of the full level-0 tiles.
        let leaves: Vec<Hash> = (0..600u32).map(|i| merkle::leaf_hash(&i.to_be_bytes())).collect();
        let mut stored: Vec<Hash> = Vec::new();
        let mut f = merkle::Frontier::new();
        for l in &leaves {
            stored.extend(f.push(*l));
        }
        let tile0 = Tile { level: 0, index: 1, width: 256 }.read(stored.as_slice()).unwrap();
        assert_eq!(&tile0[..32], &leaves[256]);
        let tile1 = Tile { level: 1, index: 0, width: 2 }.read(stored.as_slice()).unwrap();
        let head = |from: usize| {
            let mut f = merkle::Frontier::new();
            leaves[from..from + 256].iter().for_each(|l| drop(f.push(*l)));
            f.root()
        };
        assert_eq!(&tile1[..32], &head(0));
        assert_eq!(&tile1[32..], &head(256));
    }

    #[test]
    fn entry_bundles_are_length_prefixed_and_bounded() {
        let b = entry_bundle(0, [b"ab".as_slice(), b"".as_slice(), b"xyz".as_slice()]).unwrap();
        assert_eq!(b, [0, 2, b'a', b'b', 0, 0, 0, 3, b'x', b'y', b'z']);
        assert_eq!(split_bundle(&b).unwrap(), [b"ab".as_slice(), b"".as_slice(), b"xyz".as_slice()]);
        assert!(split_bundle(&[0, 3, 1]).is_none());
        let big = vec![0u8; MAX_ENTRY + 1];
        assert_eq!(entry_bundle(7, [b"a".as_slice(), big.as_slice()]), Err(TileError::EntryTooLarge { index: 8, len: 65_536 }));
        assert!(entry_bundle(0, [vec![0u8; MAX_ENTRY].as_slice()]).is_ok());
    }
}
