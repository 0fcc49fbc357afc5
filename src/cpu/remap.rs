//! CPU twin of `shaders/remap.wgsl`: the nearest palette entry for every point (unique color),
//! each search starting from the point's last label.

use super::Search;
use crate::grid::Point;
use rayon::prelude::*;

/// Label of the nearest palette entry for each point; ties go to the lower index. `hints[i]` is
/// where point `i`'s search starts (any value `>= k` for none).
pub(crate) fn remap(points: &[Point], hints: &[u16], search: &impl Search) -> Vec<u8> {
    points
        .par_iter()
        .zip(hints)
        .map(|(&p, &h)| search.nearest(p, h).0 as u8)
        .collect()
}
