//! Audio and text languages: the BCP 47 tag manifests carry (HLS `LANGUAGE`, DASH `@lang`)
//! from what containers store, and a name a viewer reads in a player's menu.
//!
//! Containers store ISO 639-2 codes (MP4 `mdhd`, Matroska `Language`: `eng`, `deu` or
//! `ger`) or, newer ones, BCP 47 (`en-US`); GStreamer's demuxers pass either on. BCP 47
//! asks for the shortest code of a language, so a 639-2 code that has a two-letter
//! ISO 639-1 equivalent becomes that (`eng` -> `en`); others stay as they are. `und`
//! (undetermined), `mis`, `mul` and `zxx` say nothing and become `None`.

/// ISO 639-2 (bibliographic and terminology codes) -> ISO 639-1, and the language's own
/// name (what a viewer of that language looks for in a menu).
const LANGUAGES: &[(&[&str], &str, &str)] = &[
    (&["eng"], "en", "English"),
    (&["deu", "ger"], "de", "Deutsch"),
    (&["fra", "fre"], "fr", "Français"),
    (&["spa"], "es", "Español"),
    (&["ita"], "it", "Italiano"),
    (&["por"], "pt", "Português"),
    (&["nld", "dut"], "nl", "Nederlands"),
    (&["swe"], "sv", "Svenska"),
    (&["nor"], "no", "Norsk"),
    (&["dan"], "da", "Dansk"),
    (&["fin"], "fi", "Suomi"),
    (&["pol"], "pl", "Polski"),
    (&["ces", "cze"], "cs", "Čeština"),
    (&["hun"], "hu", "Magyar"),
    (&["ell", "gre"], "el", "Ελληνικά"),
    (&["tur"], "tr", "Türkçe"),
    (&["rus"], "ru", "Русский"),
    (&["ukr"], "uk", "Українська"),
    (&["ara"], "ar", "العربية"),
    (&["heb"], "he", "עברית"),
    (&["hin"], "hi", "हिन्दी"),
    (&["jpn"], "ja", "日本語"),
    (&["kor"], "ko", "한국어"),
    (&["zho", "chi"], "zh", "中文"),
];

/// The BCP 47 tag for a container's language code, `None` when it states none.
pub fn bcp47(code: &str) -> Option<String> {
    let code = code.trim();
    let lower = code.to_ascii_lowercase();
    if lower.is_empty() || ["und", "mis", "mul", "zxx"].contains(&lower.as_str()) {
        return None;
    }
    if let Some((_, short, _)) = LANGUAGES.iter().find(|(long, _, _)| long.contains(&lower.as_str())) {
        return Some((*short).to_owned());
    }
    // Already BCP 47 (or a 639-2 code without a short form): the primary subtag lower case,
    // a region upper case, as the RFC recommends.
    let mut parts = code.split(['-', '_']);
    let primary = parts.next()?.to_ascii_lowercase();
    if !(2..=8).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let mut tag = LANGUAGES.iter().find(|(long, _, _)| long.contains(&primary.as_str())).map_or(primary, |(_, s, _)| (*s).to_owned());
    for sub in parts {
        if !(1..=8).contains(&sub.len()) || !sub.chars().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        tag.push('-');
        tag.push_str(&if sub.len() == 2 { sub.to_ascii_uppercase() } else { sub.to_ascii_lowercase() });
    }
    Some(tag)
}

/// The language's own name for a BCP 47 tag (its primary subtag), when this table knows it.
pub fn name(tag: &str) -> Option<&'static str> {
    let primary = tag.split('-').next()?.to_ascii_lowercase();
    LANGUAGES.iter().find(|(_, short, _)| *short == primary).map(|(_, _, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_codes_become_the_shortest_tag() {
        assert_eq!(bcp47("eng").as_deref(), Some("en"));
        assert_eq!(bcp47("ger").as_deref(), Some("de"));
        assert_eq!(bcp47("deu").as_deref(), Some("de"));
        assert_eq!(bcp47("FRE").as_deref(), Some("fr"));
        assert_eq!(bcp47("en").as_deref(), Some("en"));
        assert_eq!(bcp47("pt_br").as_deref(), Some("pt-BR"));
        assert_eq!(bcp47("eng-US").as_deref(), Some("en-US"));
        assert_eq!(bcp47("zh-Hant").as_deref(), Some("zh-hant"));
        // 639-2 without a 639-1 form stays.
        assert_eq!(bcp47("fil").as_deref(), Some("fil"));
    }

    #[test]
    fn codes_that_say_nothing_are_none() {
        for code in ["und", "UND", "", " ", "mul", "zxx", "e1", "en-?"] {
            assert_eq!(bcp47(code), None, "{code:?}");
        }
    }

    #[test]
    fn names_are_the_languages_own() {
        assert_eq!(name("de"), Some("Deutsch"));
        assert_eq!(name("en-GB"), Some("English"));
        assert_eq!(name("fil"), None);
    }
}
