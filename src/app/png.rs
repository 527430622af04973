//! Images of the window as files: cropping a rendered frame to a region and encoding PNGs.

use egui::Rect;

/// `rect` (points) in the pixels of an image rendered at `pixels_per_point`, clamped to it.
/// Rounded outwards so a region's edge pixels are kept.
pub fn pixel_rect(rect: Rect, pixels_per_point: f32, image_size: [u32; 2]) -> Option<[u32; 4]> {
    let [w, h] = image_size.map(|v| v as f32);
    let x0 = (rect.min.x * pixels_per_point).floor().clamp(0.0, w);
    let y0 = (rect.min.y * pixels_per_point).floor().clamp(0.0, h);
    let x1 = (rect.max.x * pixels_per_point).ceil().clamp(0.0, w);
    let y1 = (rect.max.y * pixels_per_point).ceil().clamp(0.0, h);
    (x1 > x0 && y1 > y0).then_some([x0 as u32, y0 as u32, (x1 - x0) as u32, (y1 - y0) as u32])
}

/// Crops `image` to `rect` (points) drawn at `pixels_per_point`.
pub fn crop(
    image: &image::RgbaImage,
    rect: Rect,
    pixels_per_point: f32,
) -> Option<image::RgbaImage> {
    let [x, y, w, h] = pixel_rect(rect, pixels_per_point, [image.width(), image.height()])?;
    Some(image::imageops::crop_imm(image, x, y, w, h).to_image())
}

/// PNG bytes of an image (best compression: these are figures for documents).
pub fn png_bytes(image: &image::RgbaImage) -> Result<Vec<u8>, String> {
    use image::ImageEncoder as _;
    let mut bytes = vec![];
    image::codecs::png::PngEncoder::new_with_quality(
        &mut bytes,
        image::codecs::png::CompressionType::Best,
        image::codecs::png::FilterType::Adaptive,
    )
    .write_image(
        image.as_raw(),
        image.width(),
        image.height(),
        image::ExtendedColorType::Rgba8,
    )
    .map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// An egui screenshot as an `image` buffer.
pub fn color_image_to_rgba(image: &egui::ColorImage) -> image::RgbaImage {
    let [w, h] = image.size;
    let raw: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    image::RgbaImage::from_raw(w as u32, h as u32, raw).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_rects_scale_and_clamp() {
        let rect = Rect::from_min_max(egui::pos2(10.0, 20.0), egui::pos2(110.5, 70.0));
        assert_eq!(
            pixel_rect(rect, 2.0, [1000, 1000]),
            Some([20, 40, 201, 100])
        );
        assert_eq!(pixel_rect(rect, 1.0, [50, 50]), Some([10, 20, 40, 30]));
        assert_eq!(pixel_rect(rect, 1.0, [5, 5]), None);
    }
}
