//! Whether this machine can run the jobs a worker serves: every GStreamer element the
//! built-in ladders need (see `packager::doctor`). The worker refuses to start without
//! them; `vodpipe doctor` prints the same check.

use packager::doctor::{self, Need};

use crate::job::LADDERS;

/// One ladder's needs, and those this machine lacks.
pub struct LadderCheck {
    pub ladder: &'static str,
    pub needs: Vec<Need>,
    pub missing: Vec<Need>,
}

/// Checks every ladder a job may name (call after `packager::init`).
pub fn check_ladders() -> Vec<LadderCheck> {
    LADDERS
        .iter()
        .map(|(name, toml)| {
            let ladder = packager::Ladder::from_toml(toml).expect("built-in ladders are valid (tested)");
            let needs = doctor::needs(&ladder);
            let missing = doctor::missing(&needs);
            LadderCheck { ladder: name, needs, missing }
        })
        .collect()
}

/// What the machine lacks for any of the ladders, said once: `None` when it lacks nothing.
pub fn unfit(checks: &[LadderCheck]) -> Option<String> {
    let mut missing: Vec<Need> = Vec::new();
    for c in checks {
        for m in &c.missing {
            if !missing.iter().any(|n| n.element == m.element) {
                missing.push(m.clone());
            }
        }
    }
    (!missing.is_empty()).then(|| doctor::describe(&missing))
}

/// The report `vodpipe doctor` prints: each ladder, each element, present or what to install.
pub fn report(checks: &[LadderCheck]) -> String {
    let mut out = String::new();
    for c in checks {
        let verdict = if c.missing.is_empty() { "ok" } else { "CANNOT RUN" };
        out.push_str(&format!("ladder {}: {verdict}\n", c.ladder));
        for n in &c.needs {
            let state = if c.missing.contains(n) { format!("MISSING (install {})", n.package) } else { "ok".into() };
            out.push_str(&format!("  {:<18} {:<36} {state}\n", n.element, n.why));
        }
    }
    out
}
