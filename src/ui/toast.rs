//! Toasts: the [`Notice`]s any capability writes (camera, segmentation backend,
//! connection, recording, room events), shown at the bottom of the window for a few
//! seconds each, errors longest. [`ToastQueue`] is the pure part (what is shown
//! when); `collect_notices` and `draw_toasts` are the glue.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_egui::{EguiContexts, egui};

use crate::{Notice, NoticeLevel};

/// Most toasts on screen at once (the newest; older ones wait in the log).
pub const MAX_TOASTS: usize = 4;

/// How long a notice stays on screen.
pub fn toast_duration(level: NoticeLevel) -> Duration {
    match level {
        NoticeLevel::Info => Duration::from_secs(6),
        NoticeLevel::Warning => Duration::from_secs(10),
        NoticeLevel::Error => Duration::from_secs(15),
    }
}

/// The notices on screen, oldest first.
#[derive(Resource, Debug, Default)]
pub struct ToastQueue {
    shown: VecDeque<(Notice, Instant)>,
}

impl ToastQueue {
    /// Shows `notice` from `now` on; a notice equal to one on screen only renews it,
    /// one about the same subject replaces it (an empty one about a subject only
    /// takes the old one away), and beyond [`MAX_TOASTS`] the oldest goes.
    pub fn push(&mut self, notice: Notice, now: Instant) {
        self.shown
            .retain(|(n, _)| *n != notice && (n.subject.is_none() || n.subject != notice.subject));
        if notice.text.is_empty() {
            return;
        }
        self.shown.push_back((notice, now));
        while self.shown.len() > MAX_TOASTS {
            self.shown.pop_front();
        }
    }

    /// The notices still on screen at `now`, oldest first (expired ones are dropped).
    pub fn visible(&mut self, now: Instant) -> impl Iterator<Item = &Notice> {
        self.shown
            .retain(|(n, at)| now.saturating_duration_since(*at) < toast_duration(n.level));
        self.shown.iter().map(|(n, _)| n)
    }
}

/// Takes this frame's notices into the queue.
pub fn collect_notices(mut notices: MessageReader<Notice>, mut queue: ResMut<ToastQueue>) {
    let now = Instant::now();
    for notice in notices.read() {
        queue.push(notice.clone(), now);
    }
}

/// Draws the toasts, bottom centre, above everything else.
pub fn draw_toasts(mut contexts: EguiContexts, mut queue: ResMut<ToastQueue>) -> Result {
    let now = Instant::now();
    let shown: Vec<Notice> = queue.visible(now).cloned().collect();
    if shown.is_empty() {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    egui::Area::new(egui::Id::new("toasts"))
        .anchor(egui::Align2::CENTER_BOTTOM, [0.0, -16.0])
        .order(egui::Order::Foreground)
        .show(ctx, |ui| {
            for notice in &shown {
                let (fill, text) = match notice.level {
                    NoticeLevel::Info => {
                        (egui::Color32::from_rgb(30, 60, 90), egui::Color32::WHITE)
                    }
                    NoticeLevel::Warning => {
                        (egui::Color32::from_rgb(110, 80, 10), egui::Color32::WHITE)
                    }
                    NoticeLevel::Error => {
                        (egui::Color32::from_rgb(140, 25, 25), egui::Color32::WHITE)
                    }
                };
                egui::Frame::new()
                    .fill(fill)
                    .corner_radius(6.0)
                    .inner_margin(egui::Margin::symmetric(12, 6))
                    .show(ui, |f| {
                        f.label(egui::RichText::new(&notice.text).color(text).size(16.0));
                    });
                ui.add_space(4.0);
            }
        });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toasts_expire_by_level_repeat_once_and_keep_the_newest() {
        let t0 = Instant::now();
        let mut q = ToastQueue::default();
        q.push(Notice::info("joined"), t0);
        q.push(Notice::error("camera stopped"), t0);
        q.push(Notice::info("joined"), t0 + Duration::from_secs(1));
        let texts = |q: &mut ToastQueue, at| {
            q.visible(at)
                .map(|n| n.text.clone())
                .collect::<Vec<String>>()
        };
        assert_eq!(
            texts(&mut q, t0 + Duration::from_secs(2)),
            ["camera stopped", "joined"]
        );
        // The info goes after 6 s, the error stays for 15.
        assert_eq!(
            texts(&mut q, t0 + Duration::from_secs(8)),
            ["camera stopped"]
        );
        assert!(texts(&mut q, t0 + Duration::from_secs(16)).is_empty());
        for i in 0..6 {
            q.push(Notice::warning(format!("w{i}")), t0);
        }
        assert_eq!(texts(&mut q, t0), ["w2", "w3", "w4", "w5"]);
    }

    #[test]
    fn a_notice_replaces_the_one_on_screen_about_the_same_subject() {
        let t0 = Instant::now();
        let mut q = ToastQueue::default();
        q.push(Notice::error("lost the server").about("signaling"), t0);
        q.push(Notice::info("camera on"), t0);
        q.push(Notice::info("back in touch").about("signaling"), t0);
        let shown: Vec<String> = q.visible(t0).map(|n| n.text.clone()).collect();
        assert_eq!(shown, ["camera on", "back in touch"]);
    }

    #[test]
    fn an_empty_notice_about_a_subject_takes_the_old_one_away() {
        let t0 = Instant::now();
        let mut q = ToastQueue::default();
        q.push(Notice::warning("lost Ada").about("links"), t0);
        q.push(Notice::info("other"), t0);
        q.push(Notice::info("").about("links"), t0);
        let shown: Vec<String> = q.visible(t0).map(|n| n.text.clone()).collect();
        assert_eq!(shown, ["other"]);
    }
}
