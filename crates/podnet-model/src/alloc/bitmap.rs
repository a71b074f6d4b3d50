//! Round-robin bitmap allocator over the indexes `0..size`.

const WORD_BITS: u64 = u64::BITS as u64;

/// Bitmap allocator over the index range `0..size` (ClusterIPs, NodePorts, node
/// podCIDRs are all indexes into a range). Memory is `size / 8` bytes.
///
/// `allocate_next` is round-robin: it searches from just after the index it
/// last handed out and wraps, so a released index is reused only after the rest
/// of the range has been offered. Explicit `allocate(i)` calls do not move that
/// cursor: a user's pinned choice should not reorder everyone else's rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitmapAllocator {
    words: Vec<u64>,
    size: u64,
    used: u64,
    /// Where the next round-robin search starts.
    cursor: u64,
}

impl BitmapAllocator {
    /// An allocator with every index of `0..size` free.
    pub fn new(size: u64) -> Self {
        let word_count = size.div_ceil(WORD_BITS);
        let word_count = usize::try_from(word_count).expect("bitmap does not fit in memory");
        BitmapAllocator {
            words: vec![0; word_count],
            size,
            used: 0,
            cursor: 0,
        }
    }

    /// Takes the first free index at or after the one following the last
    /// `allocate_next` result, wrapping to 0; `None` when every index is taken.
    pub fn allocate_next(&mut self) -> Option<u64> {
        if self.used == self.size {
            return None;
        }
        let found = self
            .first_free_in(self.cursor, self.size)
            .or_else(|| self.first_free_in(0, self.cursor))?;
        self.set(found);
        self.cursor = if found + 1 == self.size { 0 } else { found + 1 };
        Some(found)
    }

    /// Takes index `i`; false when it is already taken or not below `size`.
    pub fn allocate(&mut self, i: u64) -> bool {
        if i >= self.size || self.is_allocated(i) {
            return false;
        }
        self.set(i);
        true
    }

    /// Frees index `i`; false when it was not taken or is not below `size`.
    pub fn release(&mut self, i: u64) -> bool {
        if !self.is_allocated(i) {
            return false;
        }
        let (word, bit) = Self::position(i);
        self.words[word] &= !bit;
        self.used -= 1;
        true
    }

    /// Whether index `i` is taken (false for indexes outside the range).
    pub fn is_allocated(&self, i: u64) -> bool {
        if i >= self.size {
            return false;
        }
        let (word, bit) = Self::position(i);
        self.words[word] & bit != 0
    }

    /// Number of taken indexes.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Number of free indexes.
    pub fn free(&self) -> u64 {
        self.size - self.used
    }

    /// Number of indexes managed (`0..size`).
    pub fn size(&self) -> u64 {
        self.size
    }

    fn set(&mut self, i: u64) {
        let (word, bit) = Self::position(i);
        self.words[word] |= bit;
        self.used += 1;
    }

    fn position(i: u64) -> (usize, u64) {
        // i < size, and the words vector of size bits fits in memory, so the word index fits usize.
        ((i / WORD_BITS) as usize, 1u64 << (i % WORD_BITS))
    }

    /// First free index in `from..to`, a word at a time.
    fn first_free_in(&self, from: u64, to: u64) -> Option<u64> {
        let mut i = from;
        while i < to {
            let word_index = i / WORD_BITS;
            let below_start = (1u64 << (i % WORD_BITS)) - 1;
            let word = self.words[word_index as usize] | below_start;
            if word != u64::MAX {
                let candidate = word_index * WORD_BITS + u64::from(word.trailing_ones());
                return (candidate < to).then_some(candidate);
            }
            i = (word_index + 1) * WORD_BITS;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocate_next_hands_out_indexes_in_order_until_exhausted() {
        let mut a = BitmapAllocator::new(3);
        assert_eq!(a.allocate_next(), Some(0));
        assert_eq!(a.allocate_next(), Some(1));
        assert_eq!(a.allocate_next(), Some(2));
        assert_eq!(a.allocate_next(), None);
        assert_eq!(a.used(), 3);
        assert_eq!(a.free(), 0);
    }

    #[test]
    fn a_released_index_is_reused_only_after_the_rotation_wraps() {
        let mut a = BitmapAllocator::new(4);
        for expected in 0..3 {
            assert_eq!(a.allocate_next(), Some(expected));
        }
        assert!(a.release(1));
        // 3 is still free after the cursor, so it comes before the released 1.
        assert_eq!(a.allocate_next(), Some(3));
        assert_eq!(a.allocate_next(), Some(1));
        assert_eq!(a.allocate_next(), None);
    }

    #[test]
    fn the_rotation_wraps_from_the_end_to_the_start() {
        let mut a = BitmapAllocator::new(130);
        for expected in 0..130 {
            assert_eq!(a.allocate_next(), Some(expected));
        }
        assert!(a.release(5));
        assert!(a.release(70));
        assert_eq!(a.allocate_next(), Some(5));
        assert_eq!(a.allocate_next(), Some(70));
        assert_eq!(a.allocate_next(), None);
    }

    #[test]
    fn the_search_crosses_word_boundaries() {
        let mut a = BitmapAllocator::new(200);
        for i in 0..150 {
            assert!(a.allocate(i));
        }
        assert_eq!(a.allocate_next(), Some(150));
        for i in 151..200 {
            assert!(a.allocate(i));
        }
        assert!(a.release(3));
        assert_eq!(a.allocate_next(), Some(3));
        assert_eq!(a.free(), 0);
    }

    #[test]
    fn explicit_allocation_refuses_taken_and_out_of_range_indexes() {
        let mut a = BitmapAllocator::new(10);
        assert!(a.allocate(9));
        assert!(!a.allocate(9));
        assert!(!a.allocate(10));
        assert!(!a.allocate(u64::MAX));
        assert!(a.is_allocated(9));
        assert!(!a.is_allocated(10));
        assert_eq!(a.used(), 1);
    }

    #[test]
    fn explicit_allocation_does_not_move_the_rotation() {
        let mut a = BitmapAllocator::new(10);
        assert!(a.allocate(5));
        assert_eq!(a.allocate_next(), Some(0));
        assert_eq!(a.allocate_next(), Some(1));
    }

    #[test]
    fn allocate_next_skips_indexes_taken_explicitly() {
        let mut a = BitmapAllocator::new(4);
        assert!(a.allocate(0));
        assert!(a.allocate(1));
        assert_eq!(a.allocate_next(), Some(2));
    }

    #[test]
    fn release_refuses_free_and_out_of_range_indexes() {
        let mut a = BitmapAllocator::new(10);
        assert!(!a.release(3));
        assert!(!a.release(10));
        assert!(a.allocate(3));
        assert!(a.release(3));
        assert!(!a.release(3));
        assert_eq!(a.used(), 0);
        assert_eq!(a.free(), 10);
    }

    #[test]
    fn an_empty_range_has_nothing_to_give() {
        let mut a = BitmapAllocator::new(0);
        assert_eq!(a.allocate_next(), None);
        assert!(!a.allocate(0));
        assert_eq!(a.free(), 0);
    }

    #[test]
    fn a_range_of_exactly_one_word_wraps_correctly() {
        let mut a = BitmapAllocator::new(64);
        for expected in 0..64 {
            assert_eq!(a.allocate_next(), Some(expected));
        }
        assert_eq!(a.allocate_next(), None);
        assert!(a.release(63));
        assert_eq!(a.allocate_next(), Some(63));
        assert!(a.release(0));
        assert_eq!(a.allocate_next(), Some(0));
    }

    #[test]
    fn node_port_sized_range_exhausts_after_every_port() {
        let mut a = BitmapAllocator::new(2768);
        let mut seen = std::collections::HashSet::new();
        while let Some(i) = a.allocate_next() {
            assert!(seen.insert(i), "index {i} handed out twice");
        }
        assert_eq!(seen.len(), 2768);
        assert_eq!(a.used(), 2768);
    }
}
