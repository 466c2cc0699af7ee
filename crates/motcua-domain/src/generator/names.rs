//! Name and address material for synthetic citizens, with frequency weights.
//!
//! Surname frequencies are REPORTED approximations widely cited for Vietnam (Nguyễn ≈ 38%,
//! Trần ≈ 11%, Lê ≈ 9.5% …); middle and given names are common choices, not statistics.
//! Weights are per 10,000 people.

/// A surname, or a pair spelled differently in the north and the south.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Surname {
    /// Same everywhere.
    Plain(&'static str),
    /// Northern and southern spelling of one name (Hoàng/Huỳnh, Vũ/Võ).
    Regional {
        north: &'static str,
        south: &'static str,
    },
}

pub(crate) const SURNAMES: &[(Surname, u32)] = &[
    (Surname::Plain("Nguyễn"), 3800),
    (Surname::Plain("Trần"), 1100),
    (Surname::Plain("Lê"), 950),
    (Surname::Plain("Phạm"), 710),
    (
        Surname::Regional {
            north: "Hoàng",
            south: "Huỳnh",
        },
        510,
    ),
    (Surname::Plain("Phan"), 450),
    (
        Surname::Regional {
            north: "Vũ",
            south: "Võ",
        },
        390,
    ),
    (Surname::Plain("Đặng"), 210),
    (Surname::Plain("Bùi"), 200),
    (Surname::Plain("Đỗ"), 140),
    (Surname::Plain("Hồ"), 130),
    (Surname::Plain("Ngô"), 130),
    (Surname::Plain("Dương"), 100),
    (Surname::Plain("Lý"), 50),
    (Surname::Plain("Đinh"), 100),
    (Surname::Plain("Trương"), 110),
    (Surname::Plain("Lâm"), 60),
    (Surname::Plain("Mai"), 60),
    (Surname::Plain("Đoàn"), 60),
    (Surname::Plain("Cao"), 50),
    (Surname::Plain("Lương"), 50),
    (Surname::Plain("Hà"), 50),
    (Surname::Plain("Trịnh"), 50),
    (Surname::Plain("Tạ"), 40),
    (Surname::Plain("Tô"), 40),
    (Surname::Plain("Lưu"), 40),
    (Surname::Plain("Châu"), 40),
    (Surname::Plain("Vương"), 30),
    (Surname::Plain("Phùng"), 30),
    (Surname::Plain("Kiều"), 30),
    (Surname::Plain("Thái"), 30),
    (Surname::Plain("Quách"), 30),
    (Surname::Plain("Triệu"), 30),
    (Surname::Plain("Chu"), 30),
    (Surname::Plain("Tăng"), 20),
    (Surname::Plain("Thân"), 20),
    (Surname::Plain("Nghiêm"), 20),
    (Surname::Plain("La"), 20),
    (Surname::Plain("Hứa"), 20),
    (Surname::Plain("Diệp"), 20),
    (Surname::Plain("Doãn"), 20),
    (Surname::Plain("Khổng"), 10),
    (Surname::Plain("Giang"), 10),
    (Surname::Plain("Văn"), 10),
];

/// "Văn" is the traditional male middle name, "Thị" the female one; both are used less by
/// younger cohorts. The rest are drawn uniformly.
pub(crate) const MALE_TRADITIONAL_MIDDLE: &str = "Văn";
pub(crate) const FEMALE_TRADITIONAL_MIDDLE: &str = "Thị";

pub(crate) const MALE_MIDDLE: &[&str] = &[
    "Đức", "Minh", "Quang", "Hữu", "Thành", "Công", "Xuân", "Ngọc", "Anh", "Hoàng", "Mạnh", "Tuấn",
    "Trung", "Duy", "Gia", "Bảo", "Đình", "Thanh", "Quốc", "Tiến", "Nhật", "Hải", "Việt", "Trọng",
    "Khắc", "Huy",
];

pub(crate) const FEMALE_MIDDLE: &[&str] = &[
    "Ngọc", "Thu", "Thanh", "Bảo", "Kim", "Hồng", "Minh", "Phương", "Thùy", "Mỹ", "Khánh", "Hoài",
    "Diệu", "Quỳnh", "Lan", "Hải", "Tuyết", "Như", "Thảo", "Bích", "Hà", "Ánh",
];

/// Second middle name some women carry after "Thị" ("Nguyễn Thị Thu Hà").
pub(crate) const FEMALE_SECOND_MIDDLE: &[&str] =
    &["Thu", "Thanh", "Ngọc", "Kim", "Hồng", "Minh", "Mai"];

pub(crate) const MALE_GIVEN: &[&str] = &[
    "An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hùng", "Huy", "Khoa", "Khánh", "Kiên", "Long",
    "Minh", "Nam", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tài", "Thắng", "Thành", "Thịnh",
    "Tiến", "Toàn", "Trung", "Tuấn", "Tùng", "Việt", "Vinh", "Hiếu", "Hoàng", "Hưng", "Lâm", "Lộc",
    "Nghĩa", "Bảo", "Duy", "Đức", "Hào", "Khôi", "Nhân", "Phát", "Tâm", "Trí", "Vũ",
];

pub(crate) const FEMALE_GIVEN: &[&str] = &[
    "Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Hồng", "Huyền", "Hương",
    "Lan", "Liên", "Linh", "Loan", "Mai", "My", "Nga", "Ngân", "Ngọc", "Nhung", "Nhi", "Oanh",
    "Phương", "Quỳnh", "Tâm", "Thảo", "Thủy", "Thư", "Trang", "Trinh", "Tuyết", "Uyên", "Vân",
    "Vy", "Yến", "Hậu", "Lệ", "Thoa",
];

/// Street names found in almost every Vietnamese city (national heroes and events).
pub(crate) const STREETS: &[&str] = &[
    "Lê Lợi",
    "Trần Hưng Đạo",
    "Nguyễn Trãi",
    "Hai Bà Trưng",
    "Lý Thường Kiệt",
    "Quang Trung",
    "Hùng Vương",
    "Nguyễn Huệ",
    "Lê Duẩn",
    "Trần Phú",
    "Điện Biên Phủ",
    "Nguyễn Du",
    "Phan Chu Trinh",
    "Lê Lai",
    "Ngô Quyền",
    "Bà Triệu",
    "Võ Thị Sáu",
    "Phạm Văn Đồng",
    "Nguyễn Văn Cừ",
    "Lạc Long Quân",
    "Trần Quốc Toản",
    "Lý Tự Trọng",
    "Phan Đình Phùng",
    "Nguyễn Thái Học",
];

/// Generic commune and ward names that recur across provinces.
pub(crate) const LOCALITIES: &[&str] = &[
    "Tân Lập",
    "Hòa Bình",
    "Quyết Thắng",
    "Đồng Tâm",
    "Tân Tiến",
    "Thống Nhất",
    "Hợp Tiến",
    "An Bình",
    "Phú Lộc",
    "Bình Minh",
    "Thanh Xuân",
    "Xuân Phương",
    "Tân Phú",
    "Hưng Đạo",
    "Minh Khai",
    "Quang Trung",
    "Tân An",
    "Phước Long",
    "Vĩnh Hòa",
    "Long Hưng",
];

/// Religions as recorded in the registry with approximate shares per 1,000 people
/// (REPORTED, 2019 census: about 86% declare none). `None` = no religion.
pub(crate) const RELIGIONS: &[(Option<&str>, u32)] = &[
    (None, 864),
    (Some("Công giáo"), 61),
    (Some("Phật giáo"), 48),
    (Some("Tin lành"), 10),
    (Some("Phật giáo Hòa Hảo"), 10),
    (Some("Cao Đài"), 6),
    (Some("Hồi giáo"), 1),
];

/// Mobile prefixes in use since the 2018 renumbering (Viettel, VinaPhone, MobiFone,
/// Vietnamobile, Gmobile).
pub(crate) const MOBILE_PREFIXES: &[&str] = &[
    "086", "096", "097", "098", "032", "033", "034", "035", "036", "037", "038", "039", "088",
    "091", "094", "081", "082", "083", "084", "085", "089", "090", "093", "070", "076", "077",
    "078", "079", "092", "056", "058", "099", "059",
];

/// Reserved example domains (RFC 2606 / RFC 6761), so synthetic e-mail never reaches a
/// real mailbox.
pub(crate) const EMAIL_DOMAINS: &[&str] = &["example.com", "example.net", "example.org"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text_limits::check_name;

    #[test]
    fn name_material_is_valid_and_contains_what_search_tests_rely_on() {
        assert!(MALE_GIVEN.contains(&"An"));
        let total: u32 = SURNAMES.iter().map(|(_, w)| w).sum();
        assert_eq!(total, 10_000);
        for list in [
            MALE_MIDDLE,
            FEMALE_MIDDLE,
            FEMALE_SECOND_MIDDLE,
            MALE_GIVEN,
            FEMALE_GIVEN,
        ] {
            for name in list {
                assert_eq!(check_name(name), Ok(()), "{name}");
            }
            let unique: std::collections::HashSet<_> = list.iter().collect();
            assert_eq!(unique.len(), list.len(), "duplicate in {list:?}");
        }
        assert!(!MALE_MIDDLE.contains(&MALE_TRADITIONAL_MIDDLE));
        assert!(!FEMALE_MIDDLE.contains(&FEMALE_TRADITIONAL_MIDDLE));
        assert_eq!(RELIGIONS.iter().map(|(_, w)| w).sum::<u32>(), 1000);
        assert!(
            MOBILE_PREFIXES
                .iter()
                .all(|p| p.len() == 3 && p.starts_with('0'))
        );
    }
}
