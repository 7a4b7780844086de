//! The port's SGI names: every id maps back to its SGI, and no two share an id.

use crate::port::Sgi;

#[test]
fn sgi_ids_round_trip_and_are_distinct() {
    for s in Sgi::ALL {
        assert!(s.id() < 16, "{s:?}: SGIs are interrupt ids 0..16");
        assert_eq!(Sgi::from_id(u32::from(s.id())), Some(s));
    }
    let known = (0..16).filter(|&id| Sgi::from_id(id).is_some()).count();
    assert_eq!(known, Sgi::ALL.len(), "one SGI per id");
    assert_eq!(Sgi::from_id(16), None);
    assert_eq!(Sgi::from_id(1023), None);
}
