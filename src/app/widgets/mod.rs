//! Widgets shared by the views: heatmaps, token chips and small form helpers.

pub mod heatmap;
pub mod tokens;

use egui::{Response, Ui};

use crate::i18n::{tr, trf};

/// A label followed by a drag value that the label names (for screen readers and tests).
pub fn labeled_drag<N: egui::emath::Numeric>(
    ui: &mut Ui,
    label: &str,
    value: &mut N,
    range: std::ops::RangeInclusive<N>,
    speed: f64,
) -> Response {
    let l = ui.label(label);
    ui.label_inputs_by(l.id, |ui| {
        ui.add(egui::DragValue::new(value).range(range).speed(speed))
    })
}

pub use crate::model::limits::thousands;

/// A readout of a max |delta|: values below `1e-5` are float rounding, i.e. "no leak".
pub fn delta_text(delta: f32) -> String {
    if delta == 0.0 {
        tr("0 (exactly)").to_owned()
    } else if delta < 1e-5 {
        trf(
            "{} (float rounding: effectively 0)",
            &[&format!("{delta:.1e}")],
        )
    } else {
        format!("{delta:.4}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_groups_digits() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(1234567), "1,234,567");
    }
}
