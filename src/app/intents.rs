//! What the views ask for and cannot do themselves: anything that opens a dialog, writes a
//! file, or drives the lessons. Views return [`Intent`]s; the window hands them to the
//! actions (`actions::Actions::act`).

use super::export_jobs::ExportJob;
use crate::bundled_models::Bundled;
use crate::i18n::tr;

/// One request from a view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Ask for a path (the system file dialog, or the typed-path window), then act on it.
    ChooseFile(FilePurpose),
    /// The lessons panel: the next step (or the first one), the previous step, another
    /// lesson, or close the panel.
    NextLessonStep,
    PreviousLessonStep,
    SelectLesson(usize),
    CloseLessons,
    /// Replace the model with a bundled one.
    OpenBundled(Bundled),
    /// Open the model at this index of the recent files.
    OpenRecent(usize),
}

/// The intents of one frame, in the order the user made them.
pub type Intents = Vec<Intent>;

/// What a file dialog (or the typed-path fallback) is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilePurpose {
    /// A maskscope checkpoint file (the typed path may also name a model folder).
    OpenModel,
    /// A Hugging Face Marian (opus-mt) model folder.
    OpenModelFolder,
    SaveModel,
    OpenData,
    ExportCsv,
    /// A PNG of a region or a figure of a view.
    Export(ExportJob),
    /// A session file to write.
    SaveSession,
    /// A session file to read.
    OpenSession,
    /// The checkpoint of a session whose model file is missing or changed.
    LocateCheckpoint,
}

impl FilePurpose {
    pub fn title(self) -> &'static str {
        match self {
            FilePurpose::OpenModel => tr("Open model"),
            FilePurpose::OpenModelFolder => tr("Open model folder"),
            FilePurpose::SaveModel => tr("Save model"),
            FilePurpose::OpenData => tr("Open TSV/CSV data"),
            FilePurpose::ExportCsv => tr("Export runs to CSV"),
            FilePurpose::Export(job) => job.title(),
            FilePurpose::SaveSession => tr("Save session"),
            FilePurpose::OpenSession => tr("Open session"),
            FilePurpose::LocateCheckpoint => tr("Locate the session's model"),
        }
    }

    pub fn action(self) -> &'static str {
        match self {
            FilePurpose::OpenModel
            | FilePurpose::OpenModelFolder
            | FilePurpose::OpenData
            | FilePurpose::OpenSession
            | FilePurpose::LocateCheckpoint => tr("Open"),
            FilePurpose::SaveSession => tr("Save"),
            FilePurpose::SaveModel | FilePurpose::ExportCsv | FilePurpose::Export(_) => tr("Save"),
        }
    }

    /// The typed-path window's label for the path.
    pub fn path_label(self) -> &'static str {
        match self {
            FilePurpose::OpenModelFolder => tr("Folder path"),
            _ => tr("File path"),
        }
    }
}
