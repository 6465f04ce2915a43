//! One truth-table notation everywhere: `.` allowed, `X` blocked, rows are sources, columns are
//! destinations (the notation of Kubernetes' network policy e2e tests).
//!
//! The expected tables of `testdata/cases/*/expected.txt` are written in it:
//!
//! ```text
//! external 192.0.2.10        # optional, repeatable: non-pod endpoints after the pods
//! probe tcp/80
//! -          x/a  x/b  192.0.2.10
//! x/a        .    X    .
//! ...
//! ```

use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub names: Vec<String>,
    /// `cells[from][to]`: allowed?
    pub cells: Vec<Vec<bool>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// Non-pod endpoints, in order.
    pub externals: Vec<String>,
    /// (probe as written, e.g. `tcp/80`, its table).
    pub tables: Vec<(String, Table)>,
}

/// Parses an `expected.txt`; errors name the line.
pub fn parse(text: &str) -> Result<Expectation, String> {
    let mut externals = Vec::new();
    let mut tables: Vec<(String, Table)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let err = |msg: &str| format!("line {}: {msg}: `{raw}`", n + 1);
        match words[0] {
            "external" if words.len() == 2 => externals.push(words[1].to_string()),
            "probe" if words.len() == 2 => tables.push((
                words[1].to_ascii_lowercase(),
                Table {
                    names: Vec::new(),
                    cells: Vec::new(),
                },
            )),
            "-" => {
                let (_, table) = tables
                    .last_mut()
                    .ok_or_else(|| err("header before `probe`"))?;
                table.names = words[1..].iter().map(|w| w.to_string()).collect();
            }
            name => {
                let (_, table) = tables.last_mut().ok_or_else(|| err("row before `probe`"))?;
                let row = table.cells.len();
                if table.names.get(row).map(String::as_str) != Some(name) {
                    return Err(err(&format!(
                        "row {row} should be `{}`",
                        table.names.get(row).map_or("(none)", |s| s)
                    )));
                }
                let cells = words[1..]
                    .iter()
                    .map(|w| match *w {
                        "." => Ok(true),
                        "X" | "x" => Ok(false),
                        _ => Err(err("cells are `.` or `X`")),
                    })
                    .collect::<Result<Vec<bool>, String>>()?;
                if cells.len() != table.names.len() {
                    return Err(err(&format!(
                        "{} cells for {} columns",
                        cells.len(),
                        table.names.len()
                    )));
                }
                table.cells.push(cells);
            }
        }
    }
    for (probe, table) in &tables {
        if table.cells.len() != table.names.len() {
            return Err(format!(
                "probe {probe}: {} rows for {} columns",
                table.cells.len(),
                table.names.len()
            ));
        }
    }
    if tables.is_empty() {
        return Err("no `probe` table".to_string());
    }
    Ok(Expectation { externals, tables })
}

/// Renders a table in the notation above.
pub fn render(table: &Table) -> String {
    let width = table.names.iter().map(String::len).max().unwrap_or(1);
    let mut out = format!("{:width$}", "-");
    for name in &table.names {
        let _ = write!(out, " {name:width$}");
    }
    out = out.trim_end().to_string();
    out.push('\n');
    for (name, row) in table.names.iter().zip(&table.cells) {
        let mut line = format!("{name:width$}");
        for &cell in row {
            let _ = write!(line, " {:width$}", if cell { "." } else { "X" });
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `None` when equal; otherwise only the disagreements, one per line.
pub fn compare(expected: &Table, observed: &Table) -> Option<String> {
    if expected.names != observed.names {
        return Some(format!(
            "endpoints differ:\n  expected {:?}\n  observed {:?}",
            expected.names, observed.names
        ));
    }
    let mut out = String::new();
    for (i, from) in expected.names.iter().enumerate() {
        for (j, to) in expected.names.iter().enumerate() {
            let (e, o) = (expected.cells[i][j], observed.cells[i][j]);
            if e != o {
                let word = |b: bool| if b { "allowed" } else { "blocked" };
                let _ = writeln!(
                    out,
                    "  {from} -> {to}: expected {}, got {}",
                    word(e),
                    word(o)
                );
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str =
        "external 192.0.2.10\nprobe tcp/80\n- x/a 192.0.2.10\nx/a . X # comment\n192.0.2.10 . .\n";

    #[test]
    fn parses_renders_and_compares() {
        let e = parse(SAMPLE).expect("valid sample");
        assert_eq!(e.externals, ["192.0.2.10"]);
        let (probe, table) = &e.tables[0];
        assert_eq!(probe, "tcp/80");
        assert_eq!(table.cells, vec![vec![true, false], vec![true, true]]);
        let reparsed = parse(&format!("probe tcp/80\n{}", render(table))).expect("round trip");
        assert_eq!(&reparsed.tables[0].1, table);
        let mut other = table.clone();
        other.cells[0][1] = true;
        let diff = compare(table, &other).expect("they differ");
        assert_eq!(
            diff.trim(),
            "x/a -> 192.0.2.10: expected blocked, got allowed"
        );
        assert_eq!(compare(table, table), None);
    }

    #[test]
    fn rejects_malformed_tables() {
        for bad in [
            "- x/a\nx/a .\n",
            "probe tcp/80\n- x/a x/b\nx/a . .\n",
            "probe tcp/80\n- x/a\nx/b .\n",
            "probe tcp/80\n- x/a\nx/a ?\n",
        ] {
            assert!(parse(bad).is_err(), "must reject {bad:?}");
        }
    }
}
