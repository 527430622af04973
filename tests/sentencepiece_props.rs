//! Properties of the SentencePiece / Marian tokenizer on any input (the exact ids are pinned
//! against transformers in `marian_reference.rs`).

use std::path::Path;
use std::sync::OnceLock;

use maskscope::model::marian::MarianModel;
use maskscope::sentencepiece::{SPACE_MARK, Side};
use proptest::prelude::*;

fn model(name: &str) -> &'static MarianModel {
    static EN_ZH: OnceLock<MarianModel> = OnceLock::new();
    static WIDE: OnceLock<MarianModel> = OnceLock::new();
    let cell = if name == "en-zh" { &EN_ZH } else { &WIDE };
    cell.get_or_init(|| {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/marian")
            .join(name);
        MarianModel::load(&folder).unwrap()
    })
}

/// Words of the German corpus the `wide` fixture's target model was trained on.
const GERMAN_WORDS: &[&str] = &[
    "Sie",
    "sieht",
    "den",
    "kleinen",
    "Elefanten",
    "Ich",
    "mag",
    "grünen",
    "Tee",
    "Die",
    "Katze",
    "schläft",
    "auf",
    "dem",
    "warmen",
    "Stuhl",
    "Wir",
    "gehen",
    "jeden",
    "Morgen",
    "zur",
    "Schule",
    "Wetter",
    "ist",
    "heute",
    "kalt",
    "Fluss",
    "Lied",
];

/// Characters of the Chinese corpus the `en-zh` fixture's target model was trained on.
const CHINESE: &str = "她看见那头小象我喜欢绿茶猫在温暖的椅子上睡觉们每天早走路去学校。";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_text_encodes_to_valid_ids_ending_in_eos(text in any::<String>()) {
        for name in ["en-zh", "wide"] {
            let m = model(name);
            for side in [Side::Source, Side::Target] {
                let enc = m.tokenizer.encode(&text, side);
                let vocab = m.tokenizer.vocabulary(side).len() as u32;
                prop_assert_eq!(enc.ids.last(), Some(&m.tokenizer.eos_id));
                prop_assert_eq!(enc.ids.len(), enc.pieces.len());
                prop_assert!(enc.ids.iter().all(|&id| id < vocab));
                // Decoding never fails either.
                let _ = m.tokenizer.decode(&enc.ids);
            }
        }
    }

    #[test]
    fn pieces_cover_the_normalized_text_exactly(text in "[a-zA-Z .,!?]{0,40}") {
        let m = model("en-zh");
        let enc = m.tokenizer.encode(&text, Side::Source);
        let joined: String = enc.pieces[..enc.pieces.len() - 1].concat();
        let expected = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let expected = if expected.is_empty() { String::new() } else { format!(" {expected}") };
        prop_assert_eq!(joined.replace(SPACE_MARK, " "), expected);
    }

    #[test]
    fn chinese_round_trips_through_encode_and_decode(
        chars in proptest::collection::vec(proptest::sample::select(CHINESE.chars().collect::<Vec<_>>()), 1..30)
    ) {
        let m = model("en-zh");
        let text: String = chars.into_iter().collect();
        let ids = m.tokenizer.encode(&text, Side::Target).ids;
        prop_assert!(!ids.contains(&m.tokenizer.unk_id));
        prop_assert_eq!(m.tokenizer.decode(&ids), text);
    }

    #[test]
    fn german_words_round_trip_through_encode_and_decode(
        words in proptest::collection::vec(proptest::sample::select(GERMAN_WORDS), 1..12)
    ) {
        let m = model("wide");
        let text = words.join(" ");
        let ids = m.tokenizer.encode(&text, Side::Target).ids;
        prop_assert!(!ids.contains(&m.tokenizer.unk_id));
        prop_assert_eq!(m.tokenizer.decode(&ids), text);
    }
}
