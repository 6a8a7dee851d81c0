//! What the game HUD says (pure): from a [`GameSnapshot`], the lines drawn in the
//! world by [`super::scene_hud`]: the banner (countdown, round message, winner),
//! the round and time left, team scores, the game's one-line instruction, each
//! player's score (shown after their name tag) and, between rounds, the results.

use super::{GameKind, GamePhase, GameSnapshot, ParticipantId};

/// The HUD's words for one moment of a game.
#[derive(Clone, Debug, PartialEq)]
pub struct HudLines {
    /// Big line at the top: "Star catch: 3", "Keep them up!", "Ana wins".
    pub banner: String,
    /// Under it: "Round 2 · 0:12 left".
    pub status: String,
    /// Team scores on one line ("Left 3   Right 2"), empty without teams.
    pub teams: String,
    /// How to play, one line (shown while a round counts down and runs).
    pub instruction: String,
    /// Each player's score, shown after their name: (who, their name, "12 ♥♥").
    pub scores: Vec<(ParticipantId, String, String)>,
    /// The results board between rounds: a title and ranked rows.
    pub results: Option<String>,
}

/// One line that says how to play (what earns points), for the screen.
pub fn instruction(kind: GameKind) -> &'static str {
    match kind {
        GameKind::BalloonKeepup => {
            "Bat the balloons up, 1 point a touch: the round ends when one lands"
        }
        GameKind::MeteorDodge => {
            "Dodge the meteors: a hit costs a life, lives left at the end are points"
        }
        GameKind::StarCatch => "Touch the falling stars: 1 point each, gold stars 3",
        GameKind::Volleyball => {
            "Knock the ball over the net: your side scores when it lands on the other"
        }
        GameKind::PhotoBooth => "Pop a bubble for 1 point each, then strike a pose for the photo!",
    }
}

/// "0:07" for 6.2 seconds (rounded up: the clock never shows 0:00 while time is left).
pub fn clock(seconds: f32) -> String {
    let s = seconds.max(0.0).ceil() as u32;
    format!("{}:{:02}", s / 60, s % 60)
}

impl HudLines {
    /// The lines for a snapshot.
    pub fn from_snapshot(snap: &GameSnapshot) -> Self {
        let status = match snap.phase {
            GamePhase::Lobby => snap.game.title().to_owned(),
            // The photo booth's countdown is its round: bubbles score, then the photo.
            GamePhase::Countdown if snap.game == GameKind::PhotoBooth => {
                format!("Round {} · photo in {}", snap.round, clock(snap.time_left))
            }
            GamePhase::Countdown => {
                format!("Round {} starts in {}", snap.round, clock(snap.time_left))
            }
            GamePhase::Play => format!("Round {} · {} left", snap.round, clock(snap.time_left)),
            GamePhase::Results => format!(
                "Round {} over · next in {}",
                snap.round,
                clock(snap.time_left)
            ),
        };
        let teams = snap
            .teams
            .iter()
            .map(|t| format!("{} {}", t.name, t.points))
            .collect::<Vec<_>>()
            .join("    ");
        let scores = snap
            .scores
            .iter()
            .map(|s| {
                let lives = s.lives.map(|l| format!(" {}", "♥".repeat(l as usize)));
                let detail = if s.eliminated {
                    format!("{} out", s.total)
                } else {
                    format!("{}{}", s.total, lives.unwrap_or_default())
                };
                (s.id, s.name.clone(), detail)
            })
            .collect();
        let results = (snap.phase == GamePhase::Results).then(|| {
            let mut rows = snap.scores.clone();
            // Highest first; ties keep the players' order.
            rows.sort_by_key(|r| std::cmp::Reverse(r.total));
            let mut board = format!("Results · round {}", snap.round);
            for (i, r) in rows.iter().enumerate() {
                let unit = if r.total == 1 { "pt" } else { "pts" };
                board.push_str(&format!("\n{}. {}  {} {unit}", i + 1, r.name, r.total));
            }
            board
        });
        let instruction = match snap.phase {
            GamePhase::Countdown | GamePhase::Play | GamePhase::Lobby => instruction(snap.game),
            GamePhase::Results => "",
        };
        Self {
            banner: snap.banner.clone(),
            status,
            teams,
            instruction: instruction.to_owned(),
            scores,
            results,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::{GameConfig, GameSim};

    #[test]
    fn the_clock_rounds_up_and_pads_seconds() {
        assert_eq!(clock(6.2), "0:07");
        assert_eq!(clock(0.0), "0:00");
        assert_eq!(clock(61.0), "1:01");
        assert_eq!(clock(-3.0), "0:00");
    }

    #[test]
    fn every_game_says_how_to_play_and_the_photo_booth_says_what_scores() {
        for kind in GameKind::ALL {
            let line = instruction(kind);
            assert!(line.len() > 20 && line.len() < 90, "{kind:?}: {line}");
        }
        let booth = instruction(GameKind::PhotoBooth);
        assert!(
            booth.contains("bubble") && booth.contains("point"),
            "{booth}"
        );
    }

    #[test]
    fn a_round_in_play_shows_round_time_scores_and_the_instruction() {
        let mut sim = GameSim::new(GameKind::MeteorDodge, GameConfig::default());
        let ana = sim.add_participant("Ana");
        sim.add_participant("Bo");
        // Through the countdown into play.
        let mut snap = sim.snapshot();
        while snap.phase != GamePhase::Play {
            sim.advance(0.1);
            snap = sim.snapshot();
        }
        let hud = HudLines::from_snapshot(&snap);
        assert!(hud.status.starts_with("Round 1 · 0:1"), "{}", hud.status);
        assert_eq!(hud.instruction, instruction(GameKind::MeteorDodge));
        assert!(hud.results.is_none());
        let (id, name, detail) = &hud.scores[0];
        assert_eq!((*id, name.as_str()), (ana, "Ana"));
        assert_eq!(detail, "0 ♥♥♥");
    }

    #[test]
    fn results_rank_players_by_points() {
        let mut sim = GameSim::new(GameKind::StarCatch, GameConfig::default());
        sim.add_participant("Ana");
        sim.add_participant("Bo");
        let mut snap = sim.snapshot();
        while snap.phase != GamePhase::Results {
            sim.advance(0.25);
            snap = sim.snapshot();
        }
        snap.scores[1].total = 4;
        let hud = HudLines::from_snapshot(&snap);
        let board = hud.results.expect("a results board");
        let lines: Vec<&str> = board.lines().collect();
        assert_eq!(lines[0], format!("Results · round {}", snap.round));
        assert_eq!(lines[1], "1. Bo  4 pts");
        assert!(lines[2].starts_with("2. Ana  "), "{board}");
        assert!(hud.instruction.is_empty());
    }
}
