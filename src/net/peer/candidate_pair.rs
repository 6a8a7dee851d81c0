//! Which ICE candidate pair a connection uses, from its stats report: the
//! transport's selected pair, named by its local and remote candidate types
//! (`"host/host"`, `"relay/host"`, …: local first, as `peers[].candidate_pair` in
//! the demo report).

use rtc::peer_connection::transport::RTCIceCandidateType;
use rtc::statistics::report::{RTCStatsReport, RTCStatsReportEntry};

/// "local/remote" candidate types of the pair the transport selected; `None`
/// before one is selected.
pub fn selected_pair(report: &RTCStatsReport) -> Option<String> {
    let pair_id = report.iter().find_map(|entry| match entry {
        RTCStatsReportEntry::Transport(t) if !t.selected_candidate_pair_id.is_empty() => {
            Some(t.selected_candidate_pair_id.as_str())
        }
        _ => None,
    })?;
    let RTCStatsReportEntry::IceCandidatePair(pair) = report.get(pair_id)? else {
        return None;
    };
    // rtc 0.21 names a pair's candidates by their ICE ids but files the candidates
    // themselves under "RTCLocalIceCandidate_<id>" / "RTCRemoteIceCandidate_<id>":
    // either form is taken.
    let find = |prefix: &str, id: &str| {
        report
            .get(id)
            .or_else(|| report.get(&format!("{prefix}{id}")))
    };
    let local = match find("RTCLocalIceCandidate_", &pair.local_candidate_id)? {
        RTCStatsReportEntry::LocalCandidate(c) => c.candidate_type,
        _ => return None,
    };
    // rtc 0.21 lists only the remote candidates that were signalled: one learnt
    // from a connectivity check (a check that arrived before the candidate did) is
    // peer-reflexive by definition and has no entry.
    let remote = match find("RTCRemoteIceCandidate_", &pair.remote_candidate_id) {
        Some(RTCStatsReportEntry::RemoteCandidate(c)) => c.candidate_type.to_string(),
        Some(_) => return None,
        None => RTCIceCandidateType::Prflx.to_string(),
    };
    Some(pair_name(&local, &remote))
}

/// The pair's name from its two candidate types.
pub fn pair_name(local: &impl std::fmt::Display, remote: &impl std::fmt::Display) -> String {
    format!("{local}/{remote}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_named_local_type_first() {
        assert_eq!(
            pair_name(&RTCIceCandidateType::Relay, &RTCIceCandidateType::Host),
            "relay/host"
        );
        assert_eq!(
            pair_name(&RTCIceCandidateType::Srflx, &RTCIceCandidateType::Prflx),
            "srflx/prflx"
        );
    }

    #[test]
    fn an_empty_report_has_no_pair() {
        assert_eq!(selected_pair(&RTCStatsReport::default()), None);
    }
}
