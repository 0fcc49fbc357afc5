//! CPU twin of `shaders/remap.wgsl`: the nearest palette entry for every point.

use super::common::{nearest, point_coords, to_f32};
use rayon::prelude::*;

/// Label of the nearest palette entry for each point; ties go to the lower index.
pub fn remap(points: &[[u16; 4]], palette: &[[f32; 4]]) -> Vec<u32> {
    points
        .par_iter()
        .map(|&p| nearest(to_f32(point_coords(p)), palette).0)
        .collect()
}
