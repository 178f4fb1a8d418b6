//! Text reports of a lab: protocol state per router, the reachability matrix, and timings.

use std::fmt::Write;
use std::time::Duration;

use super::failover::{LinkCutReport, RestartReport};
use super::lifecycle::{Convergence, RouterReport};
use super::matrix::MatrixResult;

/// Lays out rows in columns as wide as their widest cell. A cell followed only by empty cells
/// (an error message in place of a row's values) spans the rest of its line and does not widen
/// its column.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|cell| cell.len()).collect();
    for row in rows {
        let last_filled = row.iter().rposition(|cell| !cell.is_empty());
        let spanning = last_filled.filter(|last| last + 1 < row.len());
        for (index, cell) in row.iter().enumerate() {
            if index < widths.len() && Some(index) != spanning {
                widths[index] = widths[index].max(cell.len());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|cell| cell.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (index, cell) in row.iter().enumerate() {
            let width = widths.get(index).copied().unwrap_or(0);
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn or_error<T>(
    result: &Result<Vec<T>, String>,
    router: &str,
    rows: &mut Vec<Vec<String>>,
    width: usize,
    each: impl Fn(&T) -> Vec<String>,
) {
    match result {
        Ok(items) => rows.extend(items.iter().map(|item| {
            let mut row = vec![router.to_string()];
            row.extend(each(item));
            row
        })),
        Err(error) => {
            let mut row = vec![router.to_string(), format!("query failed: {error}")];
            row.resize(width, String::new());
            rows.push(row);
        }
    }
}

/// Formats the OSPF, BFD, BGP and EVPN state of every router, and what each still misses.
pub fn format_state(reports: &[RouterReport]) -> String {
    let mut out = String::new();

    let mut rows = Vec::new();
    for report in reports {
        or_error(&report.state.ospf, &report.name, &mut rows, 5, |neighbor| {
            vec![
                neighbor.router_id.clone(),
                neighbor.interface.clone(),
                neighbor.address.clone(),
                neighbor.state.clone(),
            ]
        });
    }
    out.push_str("== OSPF neighbors\n");
    out.push_str(&table(
        &["router", "neighbor id", "interface", "address", "state"],
        &rows,
    ));

    let mut rows = Vec::new();
    for report in reports {
        or_error(&report.state.bfd, &report.name, &mut rows, 6, |peer| {
            let kind = if peer.multihop {
                "multihop"
            } else {
                "single-hop"
            };
            vec![
                peer.peer.clone(),
                peer.local.clone(),
                peer.interface.clone(),
                kind.to_string(),
                peer.status.clone(),
            ]
        });
    }
    out.push_str("\n== BFD sessions\n");
    out.push_str(&table(
        &["router", "peer", "local", "interface", "type", "status"],
        &rows,
    ));

    let mut rows = Vec::new();
    for report in reports {
        or_error(&report.state.bgp, &report.name, &mut rows, 5, |peer| {
            let prefixes = peer
                .prefixes_received
                .map_or_else(|| "-".to_string(), |count| count.to_string());
            vec![
                peer.address.clone(),
                peer.state.clone(),
                prefixes,
                peer.families.join(","),
            ]
        });
    }
    out.push_str("\n== BGP sessions\n");
    out.push_str(&table(
        &[
            "router",
            "neighbor",
            "state",
            "prefixes received",
            "families",
        ],
        &rows,
    ));

    let mut rows = Vec::new();
    for report in reports {
        or_error(&report.state.evpn, &report.name, &mut rows, 7, |vni| {
            let count = |value: Option<u64>| {
                value.map_or_else(|| "-".to_string(), |value| value.to_string())
            };
            vec![
                vni.vni.to_string(),
                vni.kind.clone(),
                vni.vxlan_interface.clone(),
                vni.tenant.clone(),
                count(vni.remote_vteps),
                count(vni.macs),
            ]
        });
    }
    out.push_str("\n== EVPN VNIs\n");
    out.push_str(&table(
        &[
            "router",
            "vni",
            "type",
            "vxlan",
            "tenant",
            "remote vteps",
            "macs",
        ],
        &rows,
    ));

    out.push_str("\n== Sessions against the configurations\n");
    for report in reports {
        if report.comparison.converged() {
            let _ = writeln!(
                out,
                "PASS  {} ({} on {}): every expected session up, every VNI present",
                report.name, report.role, report.backend
            );
        } else {
            let _ = writeln!(
                out,
                "FAIL  {} ({} on {}): {}",
                report.name,
                report.role,
                report.backend,
                report.comparison.missing.join("; ")
            );
        }
    }
    if reports.iter().any(|report| !report.diagnostics.is_empty()) {
        out.push_str("\n== Known backend defects seen in the routers' state\n");
        for report in reports {
            for diagnostic in &report.diagnostics {
                let _ = writeln!(out, "{}: {diagnostic}", report.name);
            }
        }
    }
    out
}

/// Formats the matrix, one row per probe.
pub fn format_matrix(matrix: &MatrixResult) -> String {
    let mut rows = Vec::new();
    for row in &matrix.rows {
        let verdict = match (row.pass, row.buildable) {
            (true, _) => "PASS",
            (false, true) => "FAIL",
            (false, false) => "FAIL*",
        };
        let received = if row.receivers.is_empty() {
            "nobody".to_string()
        } else {
            row.receivers.join(", ")
        };
        let reply = if row.replied { "reply" } else { "no reply" };
        rows.push(vec![
            verdict.to_string(),
            row.label.clone(),
            row.expected.clone(),
            format!("{reply}, received by {received}"),
        ]);
    }
    let mut out = String::from(
        "== Reachability (one ping per row; receivers found by the pods' ICMP InEchos counters)\n",
    );
    out.push_str(&table(&["", "ping", "expected", "seen"], &rows));
    let unbuildable = matrix.rows.iter().filter(|row| !row.buildable).count();
    let _ = writeln!(
        out,
        "{} of {} rows pass",
        matrix.passed(),
        matrix.rows.len()
    );
    if unbuildable > 0 {
        let _ = writeln!(
            out,
            "* {unbuildable} rows need route leaking between L3VRFs, which these routers' backend cannot build on this kernel"
        );
    }
    out
}

pub fn seconds(duration: Option<Duration>) -> String {
    duration.map_or_else(
        || "not reached".to_string(),
        |duration| format!("{:.2} s", duration.as_secs_f64()),
    )
}

/// Formats the times from the first daemon start.
pub fn format_convergence(
    label: &str,
    convergence: &Convergence,
    rows: usize,
    buildable: usize,
) -> String {
    let mut out = format!("{label}:\n");
    let _ = writeln!(
        out,
        "  sessions up and VNIs present: {}",
        seconds(convergence.sessions_up)
    );
    if buildable < rows {
        let _ = writeln!(
            out,
            "  the {buildable} rows the backends can build hold: {}",
            seconds(convergence.buildable_rows)
        );
    }
    let _ = writeln!(
        out,
        "  the whole matrix ({rows} rows) holds: {}",
        seconds(convergence.matrix)
    );
    out
}

pub fn format_link_cut(report: &LinkCutReport) -> String {
    let mut out = String::new();
    let (near, far) = &report.link;
    let choice = if report.chosen_by_traffic {
        "the uplink carrying the flow"
    } else {
        "as requested"
    };
    let _ = writeln!(
        out,
        "== Link cut: {near} <-> {far} ({choice}), {:?}",
        report.mode
    );
    let _ = writeln!(
        out,
        "flow {} -> {} ({}), one echo request every 10 ms",
        report.flow.from, report.flow.to, report.flow.address
    );
    let _ = writeln!(
        out,
        "sent {}, answered {}, lost {}; loss window {} ms (target: under 400 ms)",
        report.loss.transmitted,
        report.loss.received,
        report.loss.lost,
        report.loss.window().as_millis()
    );
    if !report.recovered {
        let _ = writeln!(out, "the flow did not run again before the deadline");
    }
    let _ = writeln!(
        out,
        "OSPF neighbor on {} left Full after {}",
        near.interface,
        seconds(report.detected_after)
    );
    let _ = writeln!(
        out,
        "after restoring the link, every session up again after {}",
        seconds(report.restored_after)
    );
    out
}

pub fn format_restart(report: &RestartReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "== Graceful restart of {}", report.router);
    let _ = writeln!(
        out,
        "flow {} -> {} ({}), one echo request every 10 ms",
        report.flow.from, report.flow.to, report.flow.address
    );
    let _ = writeln!(
        out,
        "sent {}, answered {}, lost {} (target: none); loss window {} ms",
        report.loss.transmitted,
        report.loss.received,
        report.loss.lost,
        report.loss.window().as_millis()
    );
    if !report.recovered {
        let _ = writeln!(out, "the flow did not run again before the deadline");
    }
    let _ = writeln!(
        out,
        "sessions of {} back after {}",
        report.router,
        seconds(report.sessions_back_after)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let text = table(&["a", "bb"], &[vec!["ccc".into(), "d".into()]]);
        assert_eq!(text, "a    bb\nccc  d\n");
    }

    #[test]
    fn table_error_row_spans_without_widening() {
        let rows = vec![
            vec!["r1".into(), "query failed: refused".into(), String::new()],
            vec!["r2".into(), "x".into(), "y".into()],
        ];
        let text = table(&["router", "id", "state"], &rows);
        assert_eq!(
            text,
            "router  id  state\nr1      query failed: refused\nr2      x   y\n"
        );
    }
}
