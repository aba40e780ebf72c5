//! The compliance report as a compliance officer prints it, in a real browser: headless Chromium
//! (Debian's `chromium`, which `tests/run.sh` installs) renders the HTML of a demo history, and
//! the page itself measures every timeline label (SVG `getBBox`): no two overlap and none is
//! clipped by its drawing. A control drawing with two labels placed on top of each other must be
//! caught by the same measurement. The page also prints to a PDF of several A4 pages.

use std::path::{Path, PathBuf};
use std::process::Command;

use relic_tests::{relic, Output};

fn ok(o: Output) -> String {
    assert_eq!(o.code, 0, "expected success, got: {}", o.stderr);
    o.stdout_text()
}

fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().map(PathBuf::from).find(|p| p.exists());
    if found.is_none() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "no Chromium under CI: tests/run.sh installs Debian's chromium");
        eprintln!("SKIPPED: no Chromium (apt-get install chromium)");
    }
    found
}

fn run_chromium(browser: &Path, profile: &Path, args: &[&str]) -> std::process::Output {
    Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs")
}

/// Measures every `svg.timeline` of the page: one line per problem, then `labels N` per drawing.
const MEASURE: &str = r#"<script>
const out = [];
document.querySelectorAll('svg.timeline').forEach((svg, n) => {
  const vb = svg.viewBox.baseVal;
  const boxes = [...svg.querySelectorAll('text')].map(t => ({ t: t.textContent, b: t.getBBox() }));
  for (const { t, b } of boxes) {
    if (b.x < 0 || b.y < 0 || b.x + b.width > vb.width || b.y + b.height > vb.height) out.push(`clipped ${n}: ${t}`);
  }
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i].b, c = boxes[j].b;
    if (a.x < c.x + c.width && c.x < a.x + a.width && a.y < c.y + c.height && c.y < a.y + a.height) out.push(`overlap ${n}: ${boxes[i].t} / ${boxes[j].t}`);
  }
  out.push(`labels ${n}: ${boxes.length}`);
});
const pre = document.createElement('pre'); pre.id = 'measured'; pre.textContent = out.join('\n'); document.body.appendChild(pre);
</script>"#;

/// Two labels drawn at the same place: the measurement must report them.
const CONTROL: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 200 40" font-size="10"><text x="20" y="20">control one</text><text x="24" y="22">control two</text></svg>"#;

#[test]
fn the_printed_report_has_no_overlapping_or_clipped_timeline_label() {
    let Some(browser) = chromium() else { return };
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    // The demo history: an internal release whose phases all happen within seconds, against
    // deadlines 24 hours and 30 days away: the labels crowd at one end of the axis.
    ok(relic(&data, &["demo"]));
    let page = t.path().join("report.html");
    ok(relic(&data, &["report", "compliance", "--format", "html", "--output", page.to_str().unwrap(), "--actor", "auditor"]));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Result: "), "a report page");
    assert!(!html.contains("<script"), "the report itself runs no script");

    // Measured in the page, with the control drawing added.
    let measured_page = t.path().join("measured.html");
    std::fs::write(&measured_page, html.replace("</body>", &format!("{CONTROL}{MEASURE}</body>"))).unwrap();
    let out = run_chromium(&browser, &t.path().join("profile1"), &["--dump-dom", &format!("file://{}", measured_page.display())]);
    let dom = String::from_utf8_lossy(&out.stdout).to_string();
    let start = dom.find("<pre id=\"measured\">").unwrap_or_else(|| panic!("no measurement in the DOM: {}", String::from_utf8_lossy(&out.stderr)));
    let measured = &dom[start + 19..dom[start..].find("</pre>").map_or(dom.len(), |e| start + e)];
    let lines: Vec<&str> = measured.lines().collect();
    let drawings = lines.iter().filter(|l| l.starts_with("labels ")).count();
    assert!(drawings >= 2, "the demo's internal release timeline and the control were measured: {measured}");
    let control = drawings - 1;
    let problems: Vec<&&str> = lines.iter().filter(|l| !l.starts_with("labels ") && !l.contains(&format!(" {control}: "))).collect();
    assert!(problems.is_empty(), "timeline labels overlap or are clipped:\n{}", problems.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("\n"));
    let labels: usize = lines.iter().filter(|l| l.starts_with("labels ") && !l.contains(&format!(" {control}: "))).map(|l| l.rsplit(' ').next().unwrap().parse::<usize>().unwrap()).sum();
    assert!(labels >= 9, "every phase (7) and deadline (2) label was measured: {measured}");
    assert!(lines.iter().any(|l| l.starts_with(&format!("overlap {control}: control one / control two"))), "the measurement catches an overlap: {measured}");

    // Printed: a PDF of several A4 pages (the first page, then one per section).
    let pdf = t.path().join("report.pdf");
    let out = run_chromium(&browser, &t.path().join("profile2"), &["--no-pdf-header-footer", &format!("--print-to-pdf={}", pdf.display()), &format!("file://{}", page.display())]);
    let bytes = std::fs::read(&pdf).unwrap_or_else(|_| panic!("no PDF: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(bytes.starts_with(b"%PDF"), "not a PDF");
    // Each page is a `/Type /Page` dictionary (the page tree is `/Type /Pages`).
    let text = String::from_utf8_lossy(&bytes);
    let pages = text.match_indices("/Type /Page").filter(|(i, _)| !text[i + 11..].starts_with('s')).count();
    assert!(pages >= 4, "the first page, then one per section: {pages} page(s)");
    // A4 is 595 x 842 points.
    assert!(text.contains("/MediaBox [0 0 595") || text.contains("/MediaBox [0 0 594"), "printed on A4");
}
