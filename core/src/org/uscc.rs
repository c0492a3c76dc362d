//! 统一社会信用代码 (unified social credit code, GB 32100-2015): 18 characters, the last a
//! check character computed over the first 17 with weights 3^i mod 31.

const CHARSET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Why a code is not valid; each maps to a message that tells the user what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsccError {
    Length(usize),
    BadChar {
        pos: usize,
        ch: char,
    },
    /// Characters 1–2 (registration authority and organisation category) cannot be 0.
    Header,
    Division,
    /// Characters 9–17 (the organisation code) cannot be all zeros.
    OrgCode,
    Check {
        expected: char,
        found: char,
    },
}

fn value(c: char) -> Option<u32> {
    CHARSET.find(c).map(|i| i as u32)
}

/// The check character for the first 17 characters.
pub fn check_char(first17: &str) -> Option<char> {
    let mut sum = 0;
    for (c, w) in first17.chars().zip(WEIGHTS) {
        sum += value(c)? * w;
    }
    let v = (31 - sum % 31) % 31;
    CHARSET.chars().nth(v as usize)
}

/// Normalises (trim, upper-case) and validates a code. Returns the normalised code.
pub fn validate(input: &str) -> Result<String, UsccError> {
    let code: String = input.trim().to_uppercase();
    let n = code.chars().count();
    if n != 18 {
        return Err(UsccError::Length(n));
    }
    for (i, c) in code.chars().enumerate() {
        if value(c).is_none() {
            return Err(UsccError::BadChar { pos: i + 1, ch: c });
        }
    }
    if code.starts_with('0') || code[1..2] == *"0" {
        return Err(UsccError::Header);
    }
    // characters 3–8 are the administrative division code (GB/T 2260): digits, not 000000
    if !code[2..8].chars().all(|c| c.is_ascii_digit()) || &code[2..8] == "000000" {
        return Err(UsccError::Division);
    }
    if code[8..17].chars().all(|c| c == '0') {
        return Err(UsccError::OrgCode);
    }
    let expected = check_char(&code[..17]).expect("all characters validated above");
    let found = code.chars().nth(17).expect("length is 18");
    if expected != found {
        return Err(UsccError::Check { expected, found });
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_good_codes_pass() {
        // published codes of real enterprises
        for c in [
            "91440300708461136T", // 深圳市腾讯计算机系统有限公司
            "914403001922038216", // 华为技术有限公司
            "91330100716105852F", // 阿里巴巴(中国)有限公司
            "91110000710926094P", // 中国石油化工股份有限公司
        ] {
            assert_eq!(validate(c).unwrap(), c);
        }
        assert_eq!(
            validate(" 91110000802100433b ").unwrap(),
            "91110000802100433B"
        );
    }

    #[test]
    fn check_character_is_enforced() {
        assert_eq!(
            validate("91110000802100433C"),
            Err(UsccError::Check {
                expected: 'B',
                found: 'C'
            })
        );
    }

    #[test]
    fn shape_errors_are_specific() {
        assert_eq!(validate("9111000080210043"), Err(UsccError::Length(16)));
        assert_eq!(
            validate("91110000802100433I"),
            Err(UsccError::BadChar { pos: 18, ch: 'I' })
        );
        assert_eq!(validate("91AB0000802100433B"), Err(UsccError::Division));
        assert_eq!(validate("000000000000000000"), Err(UsccError::Header));
        assert_eq!(
            validate("910000000000000000").unwrap_err(),
            UsccError::Division
        );
        let body = "913307810000000000";
        assert_eq!(validate(body), Err(UsccError::OrgCode));
    }
}
