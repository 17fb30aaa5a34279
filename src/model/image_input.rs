//! The manifest contract of one image input: fixed C, H, W within bounds, a colour that matches the
//! channels, and the normalisation and resize the station needs to prepare a frame for it.

use super::manifest::{Colour, TensorSpec, MAX_IMAGE_SIDE};

/// What is wrong with an image input's spec; each names the input.
#[derive(Debug, thiserror::Error)]
pub enum ImageInputError {
    #[error("input '{name}' must be [N, C, H, W] with fixed C, H, W")]
    Shape { name: String },
    #[error("input '{name}' {what} {side} is outside 1..{MAX_IMAGE_SIDE}")]
    Side { name: String, what: &'static str, side: i64 },
    #[error("input '{name}' has no colour")]
    NoColour { name: String },
    #[error("input '{name}' has {channels} channels for colour {colour:?}")]
    Channels { name: String, channels: i64, colour: Colour },
    #[error("input '{name}': {key} needs {channels} finite values")]
    Normalisation { name: String, key: &'static str, channels: i64 },
    #[error("input '{name}': std must be positive")]
    StdNotPositive { name: String },
    #[error("input '{name}' has no resize method")]
    NoResize { name: String },
}

pub(super) fn check_image_input(spec: &TensorSpec, channels: i64) -> Result<(), ImageInputError> {
    let name = || spec.name.clone();
    let dims = spec.fixed_dims();
    if dims.len() != 3 || dims.iter().any(Option::is_none) {
        return Err(ImageInputError::Shape { name: name() });
    }
    let c = dims[0].unwrap_or_default();
    // Zero, negative or huge sides passed before and made the station fail or allocate without bound.
    for (what, side) in [("height", dims[1]), ("width", dims[2])] {
        let side = side.unwrap_or_default();
        if !(1..=MAX_IMAGE_SIDE).contains(&side) {
            return Err(ImageInputError::Side { name: name(), what, side });
        }
    }
    let colour = spec.colour.ok_or_else(|| ImageInputError::NoColour { name: name() })?;
    let want_c = match colour {
        Colour::Rgb => 3,
        Colour::Gray => 1,
    };
    if c != want_c || c != channels {
        return Err(ImageInputError::Channels { name: name(), channels: c, colour });
    }
    for (key, v) in [("mean", &spec.mean), ("std", &spec.std)] {
        match v {
            Some(v) if v.len() as i64 == c && v.iter().all(|x| x.is_finite()) => {}
            _ => return Err(ImageInputError::Normalisation { name: name(), key, channels: c }),
        }
    }
    if spec.std.iter().flatten().any(|s| *s <= 0.0) {
        return Err(ImageInputError::StdNotPositive { name: name() });
    }
    if spec.resize.is_none() {
        return Err(ImageInputError::NoResize { name: name() });
    }
    Ok(())
}
