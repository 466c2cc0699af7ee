//! Registry tests on SQLite, or PostgreSQL with `TEST_DATABASE_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use motcua_db::testing;
use motcua_domain::{Gender, Pid};
use motcua_registry::citizens::Change;
use motcua_registry::csv_io::{self, ImportOptions, NoProgress};
use motcua_registry::quality::{self, Check};
use motcua_registry::search::{self, SearchQuery};
use motcua_registry::verify::{self, VerificationRequest};
use motcua_registry::{citizens, vital};

fn ch(actor: &'static str, reason: &'static str, at: i64) -> Change<'static> {
    Change { actor, reason, at }
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

const HEADER: &str = "pid,full_name,gender,date_of_birth,province_code,household_id,relation_to_head,hometown_province,ethnicity_code\n";

async fn import_str(db: &motcua_db::Db, csv: &str) -> csv_io::ImportReport {
    import_bytes(db, csv.as_bytes().to_vec()).await
}

async fn import_bytes(db: &motcua_db::Db, bytes: Vec<u8>) -> csv_io::ImportReport {
    import_batched(db, bytes, 3).await
}

async fn import_batched(
    db: &motcua_db::Db,
    bytes: Vec<u8>,
    batch_rows: usize,
) -> csv_io::ImportReport {
    csv_io::import(
        db,
        std::io::Cursor::new(bytes),
        today(),
        &ImportOptions {
            batch_rows,
            ..ImportOptions::default()
        },
        Box::new(NoProgress),
    )
    .await
    .unwrap()
}

fn sample() -> String {
    format!(
        "{HEADER}001095012345,Nguyễn Văn An,M,1995-03-14,001,1,head,036,01\n\
         001195012346,Trần Thị Bình,F,1995-07-02,001,1,spouse,001,01\n\
         001220000001,Nguyễn Minh Khang,M,2020-01-05,001,1,child,036,01\n\
         079085000777,Lê Văn Ánh,M,1985,079,2,head,079,\n"
    )
}

#[tokio::test]
async fn import_search_household_and_verify() {
    let db = testing::fresh().await.unwrap();
    motcua_registry::admin_units::seed(&db).await.unwrap();
    let r = import_str(&db, &sample()).await;
    assert!(r.is_complete(), "{:?}", r.errors);
    assert_eq!((r.rows_read, r.rows_imported), (4, 4));
    assert_eq!(citizens::count(&db).await.unwrap(), 4);

    // Name search without diacritics, with filters.
    let q = |text: &str, year: Option<i32>, province: Option<u16>| SearchQuery {
        text: text.into(),
        birth_year: year,
        province,
        after: None,
        limit: 20,
    };
    let hits = search::search(&db, &q("nguyen van an", None, None))
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].full_name, "Nguyễn Văn An");
    assert_eq!(hits[0].pid_text(), "001095012345");
    assert_eq!(
        search::search(&db, &q("NGUYEN", None, None))
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        search::search(&db, &q("nguyen", Some(2020), None))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        search::search(&db, &q("le van", None, Some(79)))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        search::search(&db, &q("le van", None, Some(1)))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        search::search(&db, &q("001095012345", None, None))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(search::search(&db, &q("12345", None, None)).await.is_err());

    // Keyset pagination walks every row once.
    let mut page = q("nguyen", None, None);
    page.limit = 1;
    let first = search::search(&db, &page).await.unwrap();
    page.after = Some((first[0].name_folded.clone(), first[0].pid));
    let second = search::search(&db, &page).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_ne!(first[0].pid, second[0].pid);

    let h = citizens::household(&db, 1).await.unwrap().unwrap();
    assert_eq!(h.members.len(), 3);
    assert_eq!(h.head_pid.as_deref(), Some("001095012345"));
    assert_eq!(h.members[0].pid, "001095012345", "head first");

    let v = |pid: &str, name: &str, dob: &str| VerificationRequest {
        pid: Some(pid.into()),
        full_name: Some(name.into()),
        date_of_birth: Some(dob.into()),
        purpose: Some("test".into()),
    };
    let check = |r: VerificationRequest| r.check().unwrap();
    let yes = verify::verify(
        &db,
        &check(v("001095012345", "nguyễn văn an", "1995-03-14")),
    )
    .await
    .unwrap();
    assert!(yes.matched);
    let name_wrong = verify::verify(
        &db,
        &check(v("001095012345", "Nguyễn Văn Ân", "1995-03-14")),
    )
    .await
    .unwrap();
    assert!(!name_wrong.matched && !name_wrong.fields.full_name && name_wrong.fields.date_of_birth);
    let unknown = verify::verify(
        &db,
        &check(v("001095999999", "Nguyễn Văn An", "1995-03-14")),
    )
    .await
    .unwrap();
    assert!(!unknown.matched && !unknown.fields.full_name && !unknown.fields.date_of_birth);
    let partial_date = verify::verify(&db, &check(v("079085000777", "Lê Văn Ánh", "1985")))
        .await
        .unwrap();
    assert!(partial_date.matched);
}

#[tokio::test]
async fn bad_rows_are_reported_by_line_and_never_stored() {
    let db = testing::fresh().await.unwrap();
    let mut csv = sample().into_bytes();
    csv.extend_from_slice(
        "001095012345,Nguyễn Văn An,M,1995-03-14,001,1,head,036,01\n\
         001095012399,Phạm Văn Cường,F,1995-01-01,001,3,head,001,01\n\
         001095012398,Phạm Văn Dũng,M,1995-02-30,001,3,head,001,01\n\
         0010950123,Phạm Văn Em,M,1995-02-01,001,3,head,001,01\n\
         001095012397,Phạm Văn Giang,M,1995-02-01,001\n\
         001095012396,Phạm Văn Hà,M,1995-02-01,999,3,head,001,77\n"
            .as_bytes(),
    );
    // Invalid UTF-8 in a name.
    csv.extend_from_slice(b"001095012395,Ph\xff\xfem,M,1995-02-01,001,3,head,001,01\n");
    let long = "Â".repeat(101);
    csv.extend_from_slice(
        format!("001095012394,{long},M,1995-02-01,001,3,head,001,01\n").as_bytes(),
    );
    let r = import_bytes(&db, csv).await;
    assert_eq!(r.rows_read, 12);
    assert_eq!(r.rows_imported, 4);
    assert_eq!(r.rows_rejected, 8);
    let by_line: std::collections::HashMap<u64, &csv_io::RowError> =
        r.errors.iter().map(|e| (e.line, e)).collect();
    let fields = |line: u64| -> Vec<String> {
        by_line[&line]
            .errors
            .iter()
            .map(|e| e.field.clone())
            .collect()
    };
    assert_eq!(by_line[&6].errors[0].code, "pid.duplicate");
    assert_eq!(fields(7), ["pid"], "gender digit disagrees with F");
    assert_eq!(fields(8), ["date_of_birth"]);
    assert_eq!(fields(9), ["pid"]);
    assert_eq!(by_line[&10].errors[0].code, "csv.column_count");
    assert_eq!(fields(11), ["province_code", "ethnicity_code"]);
    assert_eq!(by_line[&12].errors[0].code, "text.invalid_utf8");
    assert_eq!(fields(13), ["full_name"]);
    assert_eq!(citizens::count(&db).await.unwrap(), 4);
    for pid in [
        "001095012399",
        "001095012398",
        "001095012396",
        "001095012395",
        "001095012394",
    ] {
        assert!(
            citizens::get(&db, Pid::parse(pid).unwrap())
                .await
                .unwrap()
                .is_none(),
            "{pid}"
        );
    }

    // Importing the good rows again: each is already registered.
    let again = import_str(&db, &sample()).await;
    assert_eq!(again.rows_imported, 0);
    assert_eq!(again.rows_rejected, 4);
    assert_eq!(again.errors[0].errors[0].code, "pid.already_registered");
}

/// A file saved on Windows (byte-order mark, CRLF, a blank line, a quoted PID, a doubled quote)
/// is reported on the lines a text editor shows, by the bulk reader into an empty table and by
/// the streamed reader into a table with rows.
#[tokio::test]
async fn crlf_files_are_reported_on_their_true_lines() {
    let csv = "\u{feff}pid,full_name,gender,date_of_birth,province_code,household_id\r\n\
               001095012345,Nguyễn Văn An,M,1995-02-30,001,1\r\n\
               001095012345,Nguyễn Văn An,M,1995-03-14,001,1\r\n\
               001095012345,Nguyễn Văn Ba,M,1995-03-14,001,1\r\n\
               \r\n\
               \"001195012346\",Trần Thị Bình,F,1995-07-02,001,1\r\n\
               001095012347,\"Lê \"\"Văn\"\" C\",M,1995-01-01,001,2\r\n\
               001095012348,Phạm Văn Dũng,M,1995-01-01,001\r\n";
    let db = testing::fresh().await.unwrap();
    let lines = |r: &csv_io::ImportReport| -> Vec<(u64, String)> {
        r.errors
            .iter()
            .map(|e| (e.line, e.errors[0].code.clone()))
            .collect()
    };
    let first = import_str(&db, csv).await;
    assert_eq!(first.rows_imported, 2);
    let expected = [
        (2, "birth_date.bad_day"),
        (4, "pid.duplicate"),
        (7, "text.invalid_name_char"),
        (8, "csv.column_count"),
    ]
    .map(|(line, code)| (line, code.to_owned()));
    assert_eq!(lines(&first), expected);
    assert!(first.errors[1].errors[0].message.ends_with("line 3"));
    // Again, into a table that now has rows: every row is rejected, on the same lines.
    let again = import_str(&db, csv).await;
    let lines_again: Vec<u64> = again.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines_again, [2, 3, 4, 6, 7, 8]);
    assert_eq!(again.errors[1].errors[0].code, "pid.already_registered");
    assert_eq!(again.errors[3].errors[0].code, "pid.already_registered");
}

#[tokio::test]
async fn header_problems_reject_the_file() {
    let db = testing::fresh().await.unwrap();
    for (csv, code) in [
        ("pid,full_name,gender\n", "header.missing_column"),
        (
            "pid,full_name,gender,date_of_birth,province_code,household_id,nickname\n",
            "header.unknown_column",
        ),
        (
            "pid,pid,full_name,gender,date_of_birth,province_code,household_id\n",
            "header.duplicate_column",
        ),
        ("", "header.missing"),
    ] {
        let err = csv_io::import(
            &db,
            std::io::Cursor::new(csv.as_bytes().to_vec()),
            today(),
            &ImportOptions::default(),
            Box::new(NoProgress),
        )
        .await
        .unwrap_err();
        match err {
            motcua_registry::RegistryError::Invalid(e) => assert_eq!(e[0].code, code),
            other => panic!("{other:?}"),
        }
    }
}

/// Over many batches and sorted runs, reports follow the file: the right line for each bad
/// row, and a repeated PID blamed on the later line, naming the first (in another run, too).
#[tokio::test]
async fn rejections_keep_file_order_across_batches() {
    // More rows than three reader chunks, so chunks go round the validator threads.
    let mut buf = Vec::new();
    csv_io::write_generated(&mut buf, 11, 18_000, &mut NoProgress).unwrap();
    let text = String::from_utf8(buf).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // lines[0] is the header, so data row i is on file line i + 1.
    let dups = [
        lines[101].clone(),
        lines[9_001].clone(),
        lines[17_001].clone(),
    ];
    lines[4_501] = lines[4_501].replacen(&lines[4_501][..12], "12345", 1);
    lines.extend(dups);
    let csv = lines.join("\n") + "\n";
    let runs = [
        csv_io::RunLimits::default(),
        csv_io::RunLimits {
            rows: 5_000,
            bytes: 1 << 30,
        },
        csv_io::RunLimits {
            rows: usize::MAX,
            bytes: 300_000,
        },
    ];
    for (sorted_run, max_reported) in runs.into_iter().zip([1000, 1000, 2]) {
        let db = testing::fresh().await.unwrap();
        let opts = ImportOptions {
            batch_rows: 500,
            sorted_run,
            max_reported,
            ..ImportOptions::default()
        };
        let input = std::io::Cursor::new(csv.clone().into_bytes());
        let r = csv_io::import(&db, input, today(), &opts, Box::new(NoProgress))
            .await
            .unwrap();
        assert_eq!(
            (r.rows_read, r.rows_imported, r.rows_rejected),
            (18_003, 17_999, 4),
            "{sorted_run:?}"
        );
        assert_eq!(citizens::count(&db).await.unwrap(), 17_999);
        let got: Vec<(u64, &str, &str)> = r
            .errors
            .iter()
            .map(|e| {
                (
                    e.line,
                    e.errors[0].field.as_str(),
                    e.errors[0].code.as_str(),
                )
            })
            .collect();
        assert_eq!(got.len(), max_reported.min(4), "the lowest lines are kept");
        assert_eq!(got[0], (4_502, "pid", got[0].2));
        assert!(got[0].2.starts_with("pid."), "{got:?}");
        for (k, first) in [102, 9_002, 17_002]
            .into_iter()
            .enumerate()
            .take(got.len() - 1)
        {
            assert_eq!(got[k + 1], (18_002 + k as u64, "pid", "pid.duplicate"));
            let message = &r.errors[k + 1].errors[0].message;
            assert!(message.ends_with(&format!("line {first}")), "{message}");
        }
    }
}

#[tokio::test]
async fn a_sorted_run_stores_each_household_once_and_an_event_per_chunk() {
    use sha2::{Digest, Sha256};
    let db = testing::fresh().await.unwrap();
    let mut buf = Vec::new();
    csv_io::write_generated(&mut buf, 5, 5_000, &mut NoProgress).unwrap();
    let text = String::from_utf8(buf.clone()).unwrap();
    let r = import_batched(&db, buf, 300).await;
    assert!(r.is_complete(), "{:?}", &r.errors[..r.errors.len().min(3)]);
    assert_eq!(r.rows_imported, 5_000);

    // Expected households from the file: the first member gives province and address.
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let mut expected: std::collections::BTreeMap<i64, (Option<String>, i32, String)> =
        Default::default();
    let mut members: std::collections::HashMap<i64, usize> = Default::default();
    let mut pids = Vec::new();
    for row in rdr.records() {
        let row = row.unwrap();
        let id: i64 = row[5].parse().unwrap();
        let entry = expected
            .entry(id)
            .or_insert_with(|| (None, row[4].parse().unwrap(), row[15].to_owned()));
        if &row[6] == "head" {
            entry.0 = Some(row[0].to_owned());
        }
        *members.entry(id).or_default() += 1;
        pids.push(row[0].parse::<i64>().unwrap());
    }
    assert!(
        members.values().any(|n| *n >= 3),
        "households with several members"
    );
    for (id, (head, province, address)) in &expected {
        let h = citizens::household(&db, *id).await.unwrap().unwrap();
        assert_eq!(
            (&h.head_pid, h.province_code, &h.address, h.members.len()),
            (head, *province, address, members[id]),
            "household {id}"
        );
    }

    let events = motcua_db::events::for_aggregate(&db, "registry_import", &r.import_id)
        .await
        .unwrap();
    let batches: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "registry_import.batch_stored")
        .collect();
    assert_eq!(batches.len(), 5_000usize.div_ceil(300));
    // On SQLite a chunk is a slice of the whole run in PID order; otherwise each batch is a
    // slice of the file, stored in PID order.
    let chunks: Vec<Vec<i64>> = if db.sqlite_path().is_some() {
        pids.sort_unstable();
        pids.chunks(300).map(<[i64]>::to_vec).collect()
    } else {
        pids.chunks(300)
            .map(|c| {
                let mut c = c.to_vec();
                c.sort_unstable();
                c
            })
            .collect()
    };
    for (e, chunk) in batches.iter().zip(&chunks) {
        let payload: serde_json::Value = serde_json::from_str(&e.payload).unwrap();
        assert_eq!(payload["rows"].as_u64(), Some(chunk.len() as u64));
        let mut digest = Sha256::new();
        for pid in chunk {
            digest.update(pid.to_le_bytes());
        }
        assert_eq!(payload["pids_sha256"], hex::encode(digest.finalize()));
    }
}

#[tokio::test]
async fn generated_population_round_trips_through_csv() {
    let db = testing::fresh().await.unwrap();
    let mut buf = Vec::new();
    let n = csv_io::write_generated(&mut buf, 7, 2_000, &mut NoProgress).unwrap();
    assert_eq!(n, 2_000);
    let r = import_bytes(&db, buf.clone()).await;
    assert!(r.is_complete(), "{:?}", &r.errors[..r.errors.len().min(3)]);
    assert_eq!(r.rows_imported, 2_000);
    let mut out = Vec::new();
    assert_eq!(
        csv_io::export(&db, &mut out, Box::new(NoProgress))
            .await
            .unwrap(),
        2_000
    );
    // The export re-imports cleanly into an empty registry.
    let db2 = testing::fresh().await.unwrap();
    let r2 = import_bytes(&db2, out).await;
    assert_eq!(
        r2.rows_imported,
        2_000,
        "{:?}",
        &r2.errors[..r2.errors.len().min(3)]
    );
    let report = motcua_db::events::verify_all(&db).await.unwrap();
    assert!(report.breaks.is_empty());
}

#[tokio::test]
async fn birth_issues_a_structured_pid_and_death_closes_the_record() {
    let db = testing::fresh().await.unwrap();
    import_str(&db, &sample()).await;
    let mut tx = db.begin().await.unwrap();
    let b = vital::BirthRegistration {
        full_name: "Nguyễn Thị Mai".into(),
        gender: Gender::Female,
        date_of_birth: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
        registration_province: 1,
        father_pid: Some(Pid::parse("001095012345").unwrap()),
        mother_pid: Some(Pid::parse("001195012346").unwrap()),
        ethnicity_code: Some(1),
        nationality: None,
        household_id: Some(1),
    };
    let pid = vital::register_birth(
        &mut tx,
        &b,
        today(),
        &ch("staff:officer", "birth certificate 12/2026", 1),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let s = pid.to_string();
    assert!(
        s.starts_with("001326"),
        "{s}: Hà Nội, female 2000s, year 26"
    );
    let child = citizens::get(&db, pid).await.unwrap().unwrap();
    assert_eq!(
        child.residence_province,
        Some(1),
        "takes a parent's residence"
    );
    assert_eq!(child.relation_to_head.as_deref(), Some("child"));

    // A birth in the future or with an unknown parent is refused, naming the field.
    let mut tx = db.begin().await.unwrap();
    let mut bad = b.clone();
    bad.date_of_birth = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
    bad.mother_pid = Some(Pid::parse("001195999999").unwrap());
    let err = vital::register_birth(&mut tx, &bad, today(), &ch("staff:officer", "x", 2))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("date_of_birth") && msg.contains("mother_pid"),
        "{msg}"
    );
    drop(tx);

    let an = Pid::parse("001095012345").unwrap();
    let mut tx = db.begin().await.unwrap();
    vital::register_death(
        &mut tx,
        an,
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        today(),
        &ch("staff:officer", "death notice", 3),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        citizens::get(&db, an).await.unwrap().unwrap().status,
        "deceased"
    );
    let mut tx = db.begin().await.unwrap();
    assert!(
        vital::register_death(
            &mut tx,
            an,
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            today(),
            &ch("x", "x", 4)
        )
        .await
        .is_err()
    );
    drop(tx);

    let history = motcua_db::events::for_aggregate(&db, "citizen", "001095012345")
        .await
        .unwrap();
    assert_eq!(
        history.last().unwrap().event_type,
        "citizen.death_registered"
    );
    assert_eq!(history.last().unwrap().actor, "staff:officer");
    let births = motcua_db::events::by_type(&db, "citizen.birth_registered", 0, i64::MAX, 0, 10)
        .await
        .unwrap();
    assert_eq!(births.len(), 1);

    // The deceased still holds a permanent residence until it is removed: a quality finding.
    let report = quality::report(&db).await.unwrap();
    let count = |c: Check| report.counts.iter().find(|x| x.0 == c).unwrap().1;
    assert_eq!(count(Check::DeceasedWithResidence), 1);
    let list = quality::worklist(&db, Check::DeceasedWithResidence, 0, 50)
        .await
        .unwrap();
    assert_eq!(list[0].pid_text(), "001095012345");
}

#[tokio::test]
async fn birth_records_the_stated_ethnicity_and_nationality() {
    let db = testing::fresh().await.unwrap();
    let b = vital::BirthRegistration {
        full_name: "Thạch Thị Sa Rinh".into(),
        gender: Gender::Female,
        date_of_birth: NaiveDate::from_ymd_opt(2026, 11, 18).unwrap(),
        registration_province: 94,
        father_pid: None,
        mother_pid: None,
        ethnicity_code: Some(5),
        nationality: Some("LA".into()),
        household_id: None,
    };
    let mut tx = db.begin().await.unwrap();
    let pid = vital::register_birth(&mut tx, &b, today(), &ch("staff:officer", "GCS-7", 1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let child = citizens::get(&db, pid).await.unwrap().unwrap();
    assert_eq!(child.ethnicity_code, Some(5), "Khmer");
    assert_eq!(child.nationality, "LA");

    // An unknown group and a nationality that is not an upper-case ISO code are refused
    // together, naming both fields; nothing is stored.
    let bad = vital::BirthRegistration {
        ethnicity_code: Some(55),
        nationality: Some("vn".into()),
        ..b.clone()
    };
    let mut tx = db.begin().await.unwrap();
    let err = vital::register_birth(&mut tx, &bad, today(), &ch("staff:officer", "GCS-8", 2))
        .await
        .unwrap_err();
    drop(tx);
    let fields: Vec<String> = match err {
        motcua_registry::RegistryError::Invalid(errs) => {
            errs.into_iter().map(|e| e.field).collect()
        }
        other => panic!("{other}"),
    };
    assert_eq!(fields, ["ethnicity_code", "nationality"]);
    assert_eq!(citizens::count(&db).await.unwrap(), 1);

    // Without either, the child is Vietnamese and the group is left unrecorded.
    let unstated = vital::BirthRegistration {
        ethnicity_code: None,
        nationality: None,
        ..b
    };
    let mut tx = db.begin().await.unwrap();
    let pid = vital::register_birth(
        &mut tx,
        &unstated,
        today(),
        &ch("staff:officer", "GCS-9", 3),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let child = citizens::get(&db, pid).await.unwrap().unwrap();
    assert_eq!(
        (child.ethnicity_code, child.nationality.as_str()),
        (None, "VN")
    );
}

#[tokio::test]
async fn quality_checks_find_duplicates_gaps_and_inconsistent_pids() {
    let db = testing::fresh().await.unwrap();
    let csv = format!(
        "{HEADER}001095012345,Nguyễn Văn An,M,1995-03-14,001,1,head,036,01\n\
         031095000001,Nguyen Van An,M,1995-03-14,031,2,head,031,01\n\
         001090000002,Đỗ Văn Bảo,M,1990-01-01,,,,,\n"
    );
    let r = import_str(&db, &csv).await;
    assert!(r.is_complete(), "{:?}", r.errors);
    // A later correction of the year of birth makes the PID inconsistent with the record.
    let _: u64 = motcua_db::on_write!(&db, c => {
        sqlx::query("UPDATE citizens SET birth_year = 1991, date_of_birth = '1991-01-01' WHERE pid = 1090000002")
            .execute(c).await.map(|r| r.rows_affected())
    }).unwrap();
    let report = quality::report(&db).await.unwrap();
    let count = |c: Check| report.counts.iter().find(|x| x.0 == c).unwrap().1;
    assert_eq!(report.total, 3);
    assert_eq!(count(Check::SuspectedDuplicates), 2);
    assert_eq!(count(Check::MissingFields), 1);
    assert_eq!(count(Check::InconsistentPid), 1);
    assert_eq!(count(Check::DeceasedWithResidence), 0);
    let w = quality::worklist(&db, Check::InconsistentPid, 0, 10)
        .await
        .unwrap();
    assert_eq!(w[0].pid_text(), "001090000002");

    // The page's cache serves one computation until it is older than the allowed age.
    let cache = quality::ReportCache::default();
    let hour = std::time::Duration::from_secs(3600);
    let first = cache.get(&db, hour).await.unwrap();
    assert_eq!(first.total, 3);
    let added = import_str(
        &db,
        &format!("{HEADER}001185000003,Lê Thị Cúc,F,1985-02-02,001,3,head,001,01\n"),
    )
    .await;
    assert!(added.is_complete(), "{:?}", added.errors);
    let cached = cache.get(&db, hour).await.unwrap();
    assert_eq!((cached.total, cached.computed_at), (3, first.computed_at));
    let recomputed = cache.get(&db, std::time::Duration::ZERO).await.unwrap();
    assert_eq!(recomputed.total, 4);
    assert!(recomputed.computed_at > first.computed_at);
}

#[tokio::test]
async fn residence_and_id_cards_keep_history() {
    let db = testing::fresh().await.unwrap();
    import_str(&db, &sample()).await;
    let an = Pid::parse("001095012345").unwrap();
    let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let mut tx = db.begin().await.unwrap();
    citizens::register_permanent_residence(
        &mut tx,
        an,
        79,
        "12 Lý Tự Trọng, Quận 1",
        d(2026, 1, 1),
        &ch("staff:o", "moved", 10),
    )
    .await
    .unwrap();
    citizens::register_temporary_residence(
        &mut tx,
        an,
        48,
        "5 Bạch Đằng",
        d(2026, 2, 1),
        Some(d(2026, 8, 1)),
        &ch("staff:o", "work", 11),
    )
    .await
    .unwrap();
    let card = citizens::issue_id_card(
        &mut tx,
        an,
        d(2021, 3, 20),
        &ch("staff:o", "first card", 12),
    )
    .await
    .unwrap();
    let card2 =
        citizens::issue_id_card(&mut tx, an, d(2026, 3, 20), &ch("staff:o", "re-issue", 13))
            .await
            .unwrap();
    tx.commit().await.unwrap();
    // Born 1995-03-14: a card issued at 26 is valid until the 40th birthday.
    assert_eq!(card.expires_on.as_deref(), Some("2035-03-14"));
    assert_eq!(card2.expires_on.as_deref(), Some("2035-03-14"));
    let cards = citizens::id_cards(&db, an).await.unwrap();
    assert_eq!(cards.iter().filter(|c| c.status == "active").count(), 1);
    let res = citizens::residences(&db, an).await.unwrap();
    assert_eq!(res.len(), 2);
    assert!(
        res.iter()
            .any(|r| r.kind == "permanent" && r.valid_to.as_deref() == Some("2026-01-01"))
    );
    let c = citizens::get(&db, an).await.unwrap().unwrap();
    assert_eq!(c.residence_province, Some(79));
    // Unknown province and empty address are refused.
    let mut tx = db.begin().await.unwrap();
    let e = citizens::register_permanent_residence(
        &mut tx,
        an,
        999,
        "x",
        d(2026, 3, 1),
        &ch("s", "r", 14),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("province_code"));
    let e = citizens::register_permanent_residence(
        &mut tx,
        an,
        1,
        "  ",
        d(2026, 3, 1),
        &ch("s", "r", 14),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("address"));
}

// ---------------------------------------------------------------------------------------
// Verification limits
// ---------------------------------------------------------------------------------------

mod throttling {
    use super::*;
    use motcua_registry::throttle::{self, ThrottleConfig, Verdict, VerificationThrottle};
    use motcua_registry::verify::Verification;

    const AN: i64 = 1_095_012_345;

    async fn registry() -> motcua_db::testing::TestDb {
        let db = testing::fresh().await.unwrap();
        motcua_registry::admin_units::seed(&db).await.unwrap();
        assert!(import_str(&db, &sample()).await.is_complete());
        db
    }

    fn an(dob: &str) -> Verification {
        VerificationRequest {
            pid: Some("001095012345".into()),
            full_name: Some("Nguyễn Văn An".into()),
            date_of_birth: Some(dob.into()),
            purpose: Some("test".into()),
        }
        .check()
        .unwrap()
    }

    fn guess(i: usize) -> Verification {
        an(&format!("19{:02}-01-01", i % 90))
    }

    #[tokio::test]
    async fn parallel_non_matches_are_all_counted() {
        let db = registry().await;
        let now = motcua_db::clock::now_us();
        let counts: Vec<_> = (0..20)
            .map(|i| {
                let db = db.db.clone();
                tokio::spawn(async move {
                    throttle::record_failure(&db, "client-a", AN, 25, now + i)
                        .await
                        .unwrap()
                })
            })
            .collect();
        for c in counts {
            c.await.unwrap();
        }
        let stored = throttle::failures(&db, "client-a", AN).await.unwrap();
        assert_eq!(stored, (0..20).map(|i| now + i).collect::<Vec<_>>());
        // Only one more than the limit is kept: the last five counted (in whatever order the
        // parallel writers arrived) and this one.
        let kept = throttle::record_failure(&db, "client-a", AN, 5, now + 20)
            .await
            .unwrap();
        assert_eq!(kept.len(), 6, "{kept:?}");
        assert_eq!(kept.last(), Some(&(now + 20)));
        assert!(kept[..5].iter().all(|t| stored.contains(t)), "{kept:?}");
        let sequential: Vec<i64> = (21..30).map(|i| now + i).collect();
        for t in &sequential {
            throttle::record_failure(&db, "client-a", AN, 5, *t)
                .await
                .unwrap();
        }
        assert_eq!(
            throttle::failures(&db, "client-a", AN).await.unwrap(),
            sequential[3..]
        );
        assert!(
            throttle::failures(&db, "client-b", AN)
                .await
                .unwrap()
                .is_empty()
        );
    }

    /// Two nodes (each with its own lock and quota counts) on one database, 20 guesses at once.
    async fn race(
        config: ThrottleConfig,
        guesses: impl Fn(usize) -> Verification,
    ) -> (Vec<Verdict>, motcua_db::testing::TestDb) {
        let db = registry().await;
        let nodes = [
            VerificationThrottle::new(config),
            VerificationThrottle::new(config),
        ];
        let now = motcua_db::clock::now_us();
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let (db, node, v) = (db.db.clone(), nodes[i % 2].clone(), guesses(i));
                tokio::spawn(async move { node.verify(&db, "client-a", &v, now).await.unwrap() })
            })
            .collect();
        let mut verdicts = Vec::new();
        for t in tasks {
            verdicts.push(t.await.unwrap());
        }
        (verdicts, db)
    }

    #[tokio::test]
    async fn racing_guesses_get_no_more_than_the_limit_of_answers() {
        let config = ThrottleConfig {
            daily_quota: 0,
            ..ThrottleConfig::default()
        };
        let (verdicts, db) = race(config, guess).await;
        let answered = verdicts
            .iter()
            .filter(|v| matches!(v, Verdict::Answered(r) if !r.matched))
            .count();
        let throttled = verdicts
            .iter()
            .filter(|v| matches!(v, Verdict::Throttled { retry_after_secs } if *retry_after_secs > 86_000))
            .count();
        assert_eq!((answered, throttled), (5, 15), "{verdicts:?}");
        // The right answer is refused now too, and another client is not.
        let node = VerificationThrottle::new(config);
        let now = motcua_db::clock::now_us();
        let right = an("1995-03-14");
        assert!(matches!(
            node.verify(&db, "client-a", &right, now).await.unwrap(),
            Verdict::Throttled { .. }
        ));
        assert!(matches!(
            node.verify(&db, "client-b", &right, now).await.unwrap(),
            Verdict::Answered(r) if r.matched
        ));
        // A day later the window has moved past them.
        let later = now + config.failure_window_us;
        assert!(matches!(
            node.verify(&db, "client-a", &right, later).await.unwrap(),
            Verdict::Answered(r) if r.matched
        ));
    }

    #[tokio::test]
    async fn the_daily_quota_holds_across_nodes() {
        let config = ThrottleConfig {
            failures_per_pid: 0,
            daily_quota: 10,
            ..ThrottleConfig::default()
        };
        let (verdicts, db) = race(config, |_| an("1995-03-14")).await;
        let answered = verdicts
            .iter()
            .filter(|v| matches!(v, Verdict::Answered(r) if r.matched))
            .count();
        let refused = verdicts
            .iter()
            .filter(|v| matches!(v, Verdict::QuotaExceeded { retry_after_secs } if *retry_after_secs <= 86_400))
            .count();
        assert_eq!((answered, refused), (10, 10), "{verdicts:?}");
        let now = motcua_db::clock::now_us();
        assert!(throttle::quota_used(&db, "client-a", now).await.unwrap() >= 10);
        // The next day (in Hà Nội) starts a new count.
        let node = VerificationThrottle::new(config);
        let tomorrow = now + 86_400 * 1_000_000;
        assert!(matches!(
            node.verify(&db, "client-a", &an("1995-03-14"), tomorrow)
                .await
                .unwrap(),
            Verdict::Answered(_)
        ));
        assert_eq!(
            throttle::quota_used(&db, "client-a", tomorrow)
                .await
                .unwrap(),
            1
        );
    }

    #[tokio::test]
    async fn expired_counters_are_purged() {
        let db = registry().await;
        let config = ThrottleConfig::default();
        let window = config.failure_window_us;
        let now = motcua_db::clock::now_us();
        let day = 86_400 * 1_000_000;
        throttle::record_failure(&db, "old", AN, 5, now - window)
            .await
            .unwrap();
        throttle::record_failure(&db, "recent", AN, 5, now - window)
            .await
            .unwrap();
        throttle::record_failure(&db, "recent", AN, 5, now - window + 1)
            .await
            .unwrap();
        let node = VerificationThrottle::new(config);
        for at in [now - 2 * day, now - day, now] {
            node.verify(&db, "client-a", &an("1995-03-14"), at)
                .await
                .unwrap();
        }
        // Each verification above may have started the daily purge in the background too:
        // a purge at an earlier time deletes a part of what this one does, so the outcome
        // below is the same whichever ran first.
        throttle::purge_expired(&db, now, window).await.unwrap();
        assert!(throttle::failures(&db, "old", AN).await.unwrap().is_empty());
        assert_eq!(
            throttle::failures(&db, "recent", AN).await.unwrap().len(),
            2
        );
        assert_eq!(
            throttle::quota_used(&db, "client-a", now - 2 * day)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            throttle::quota_used(&db, "client-a", now - day)
                .await
                .unwrap(),
            1
        );
        assert_eq!(throttle::quota_used(&db, "client-a", now).await.unwrap(), 1);
    }

    /// The counters' file (embedded database) may be lost, like the access log's: the next
    /// start creates its tables again, and the limits count from zero.
    #[tokio::test]
    async fn a_missing_counters_file_is_recreated_at_start() {
        if testing::on_postgres() {
            return testing::skipped(
                "a_missing_counters_file_is_recreated_at_start",
                "the counters' separate file exists on SQLite only",
            );
        }
        let db = registry().await;
        let now = motcua_db::clock::now_us();
        throttle::record_failure(&db, "client-a", AN, 5, now)
            .await
            .unwrap();
        let path = db.sqlite_path().unwrap().to_owned();
        db.close().await;
        let counters = motcua_db::counters_file(&path);
        assert!(counters.exists(), "{}", counters.display());
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", counters.display()));
        }
        let reopened = motcua_db::Db::connect(&db.url).await.unwrap();
        motcua_db::migrate::run(&reopened).await.unwrap();
        assert!(
            throttle::failures(&reopened, "client-a", AN)
                .await
                .unwrap()
                .is_empty()
        );
        let limits = VerificationThrottle::new(ThrottleConfig::default());
        let mut verdicts = Vec::new();
        for i in 0..6 {
            verdicts.push(
                limits
                    .verify(&reopened, "client-a", &guess(i), now + 1)
                    .await
                    .unwrap(),
            );
        }
        // Five non-matches are counted in the new file, so the sixth guess is refused.
        assert!(
            matches!(verdicts[5], Verdict::Throttled { .. }),
            "{verdicts:?}"
        );
        assert_eq!(
            throttle::failures(&reopened, "client-a", AN)
                .await
                .unwrap()
                .len(),
            5
        );
        assert_eq!(
            throttle::quota_used(&reopened, "client-a", now)
                .await
                .unwrap(),
            1
        );
    }
}
