//! Every game, played by the demo participants through the real pipeline
//! (synthetic camera → segmentation → silhouettes → physics), headless.

use crate::common::{read_json, samespace, temp_dir, text};

#[test]
fn games_command_lists_the_five_games_names_first() {
    let run = samespace(&["games"]);
    assert!(run.status.success(), "{}", text(&run));
    let out = String::from_utf8_lossy(&run.stdout);
    let names: Vec<&str> = out.lines().filter_map(|l| l.split('\t').next()).collect();
    assert_eq!(
        names,
        vec![
            "balloon-keepup",
            "meteor-dodge",
            "star-catch",
            "volleyball",
            "photo-booth"
        ]
    );
}

#[test]
fn an_unknown_game_is_refused_with_the_list() {
    let run = samespace(&["demo", "--headless", "--game", "chess"]);
    assert!(!run.status.success());
    assert!(text(&run).contains("balloon-keepup"), "{}", text(&run));
}

#[test]
fn every_game_is_played_with_body_contacts_and_events() {
    let dir = temp_dir("games-demo");
    let run = samespace(&["games"]);
    let out = String::from_utf8_lossy(&run.stdout).to_string();
    for game in out.lines().filter_map(|l| l.split('\t').next()) {
        let report = dir.join(format!("{game}.json"));
        let snapshot = dir.join(format!("{game}.png"));
        let run = samespace(&[
            "demo",
            "--headless",
            "--seconds",
            "12",
            "--participants",
            "3",
            "--game",
            game,
            "--report",
            report.to_str().expect("utf8"),
            "--snapshot",
            snapshot.to_str().expect("utf8"),
        ]);
        assert!(run.status.success(), "{game}: {}", text(&run));
        let json: serde_json::Value = read_json(&report);
        let g = &json["game"];
        assert_eq!(g["name"], game);
        assert!(g["body_contacts"].as_u64().unwrap_or(0) > 0, "{game}: {g}");
        assert!(
            !g["events"].as_array().expect("events").is_empty(),
            "{game}: {g}"
        );
        if game == "photo-booth" {
            assert!(
                dir.join("group-photo-1.png").exists(),
                "the photo booth saved no group photo"
            );
        }
    }
}
