//! What an export is, as plain data: the menus build an [`ExportJob`], the file dialog adds a
//! path, and `actions::export` carries it out.

use super::regions::Region;
use super::settings::ViewId;
use crate::i18n::tr;

/// A file format for figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Svg,
    Csv,
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Svg, Format::Csv, Format::Json];

    pub fn extension(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// One export, chosen in a menu; the path comes from the file dialog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportJob {
    /// A region as PNG at 1, 2 or 3 pixels per point of the window.
    Png {
        region: Region,
        view: ViewId,
        scale: u8,
    },
    /// Figure `index` of [`figures`]`(view)`.
    Figure {
        view: ViewId,
        index: usize,
        format: Format,
    },
}

impl ExportJob {
    /// Title of the file dialog.
    pub fn title(self) -> &'static str {
        match self {
            ExportJob::Png { .. } => tr("Export image (PNG)"),
            ExportJob::Figure {
                format: Format::Svg,
                ..
            } => tr("Export figure (SVG)"),
            ExportJob::Figure {
                format: Format::Csv,
                ..
            } => tr("Export numbers (CSV)"),
            ExportJob::Figure {
                format: Format::Json,
                ..
            } => tr("Export numbers (JSON)"),
        }
    }

    /// `("PNG image", ["png"])` for the dialog's filter.
    pub fn filter(self) -> (&'static str, &'static str) {
        match self {
            ExportJob::Png { .. } => ("PNG", "png"),
            ExportJob::Figure { format, .. } => match format {
                Format::Svg => ("SVG", "svg"),
                Format::Csv => ("CSV", "csv"),
                Format::Json => ("JSON", "json"),
            },
        }
    }

    /// A file name to start from, e.g. `maskscope-attention-2x.png`. `figure_slug` names
    /// the figure a figure job exports (`None`: no longer shown).
    pub fn file_name(self, figure_slug: Option<&str>) -> String {
        match self {
            ExportJob::Png {
                region,
                view,
                scale,
            } => format!("maskscope-{}-{scale}x.png", region.slug(view)),
            ExportJob::Figure { view, format, .. } => {
                let slug = figure_slug.unwrap_or("figure");
                format!("maskscope-{}-{slug}.{}", view.slug(), format.extension())
            }
        }
    }
}
