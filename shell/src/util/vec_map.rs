//! [`VecMap`]: the shell's registries (threads by tid, works by name, ...).

use alloc::vec::Vec;
use core::borrow::Borrow;

/// A map kept as a `Vec` sorted by key: iteration in key order like a `BTreeMap`, for the few
/// dozen entries a shell session creates, at a fraction of the code (a `BTreeMap` is a few KiB
/// of code per key/value type).
#[derive(Clone, Debug)]
pub(crate) struct VecMap<K, V>(Vec<(K, V)>);

impl<K: Ord, V> VecMap<K, V> {
    pub(crate) const fn new() -> Self {
        Self(Vec::new())
    }

    /// `Ok(index)` of `key`, or `Err(index)` where it would go.
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    pub(crate) fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub(crate) fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Inserts or replaces; returns the value replaced.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(core::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub(crate) fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    /// Keeps the entries for which `keep` is true (in key order).
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.0.retain(|(k, v)| keep(k, v));
    }

    /// The values, in key order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    #[cfg(test)]
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::VecMap;
    use alloc::string::String;
    use alloc::vec::Vec;

    #[test]
    fn behaves_like_a_btreemap() {
        use std::collections::BTreeMap;
        let mut m: VecMap<String, u32> = VecMap::new();
        let mut model: BTreeMap<String, u32> = BTreeMap::new();
        let mut rng = crate::tests::fakes::Rng::new(12345);
        for step in 0..2000u32 {
            let x = rng.next();
            let key = format!("k{}", x % 61);
            match x % 5 {
                0 | 1 => assert_eq!(m.insert(key.clone(), step), model.insert(key.clone(), step)),
                2 => assert_eq!(m.remove(key.as_str()), model.remove(key.as_str())),
                3 => assert_eq!(m.get(key.as_str()), model.get(key.as_str())),
                _ => {
                    m.retain(|k, v| !(k.len() + *v as usize).is_multiple_of(7));
                    model.retain(|k, v| !(k.len() + *v as usize).is_multiple_of(7));
                }
            }
            assert_eq!(
                m.contains_key(key.as_str()),
                model.contains_key(key.as_str())
            );
            let got: Vec<u32> = m.values().copied().collect();
            let want: Vec<u32> = model.values().copied().collect();
            assert_eq!(got, want, "step {step}");
        }
        m.clear();
        assert_eq!(m.values().count(), 0);
    }
}
