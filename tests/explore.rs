//! `kmquant explore`: the HTTP API on an ephemeral port (every endpoint, bad parameters, the
//! token, the Host check, stale previews, byte-identical downloads, Ctrl-C), and the page in a
//! real headless Chromium driven through WebDriver (chromium-driver).

mod common;

use common::{fixture_copy, kmquant};
use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `kmquant explore`, stopped with SIGINT when dropped.
struct Server {
    child: Child,
    /// host:port
    addr: String,
    token: String,
    url: String,
}

impl Server {
    fn start(photo: &str) -> Server {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("kmquant"))
            .args(["explore", photo, "--no-open", "--backend", "cpu"])
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().to_string();
        let rest = url
            .strip_prefix("http://")
            .expect("the first line is the address");
        let (addr, query) = rest.split_once("/?token=").unwrap();
        assert!(
            addr.starts_with("127.0.0.1:"),
            "binds to 127.0.0.1 by default: {url}"
        );
        assert_eq!(query.len(), 32, "a 128-bit token in hex");
        Server {
            child,
            addr: addr.to_string(),
            token: query.to_string(),
            url,
        }
    }

    /// GET `path_and_query` with `token=` added; the status, headers and body.
    fn get(&self, path_and_query: &str) -> (u16, String, Vec<u8>) {
        let sep = if path_and_query.contains('?') { '&' } else { '?' };
        http_get(
            &self.addr,
            &self.addr,
            &format!("{path_and_query}{sep}token={}", self.token),
        )
    }

    /// Stops with SIGINT, as Ctrl-C would; the exit status and standard error.
    fn stop(mut self) -> (Option<i32>, String) {
        Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status.code(), err)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain GET with a chosen Host header.
fn http_get(addr: &str, host: &str, path: &str) -> (u16, String, Vec<u8>) {
    http(addr, "GET", host, path, None)
}

fn http(addr: &str, method: &str, host: &str, path: &str, body: Option<&str>) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // Read the header, then the body: Content-Length bytes, or chunks, or to the end.
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let (end, len) = loop {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "the connection closed before the header ended");
        raw.extend_from_slice(&buf[..n]);
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..p]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse::<usize>().unwrap());
            break (p + 4, len);
        }
    };
    let chunked = String::from_utf8_lossy(&raw[..end])
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    match len.filter(|_| !chunked) {
        Some(len) => {
            while raw.len() < end + len {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "the connection closed before the body ended");
                raw.extend_from_slice(&buf[..n]);
            }
        }
        None => {
            s.read_to_end(&mut raw).unwrap();
        }
    }
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(&raw[end..])
    } else {
        raw[end..].to_vec()
    };
    (status, head, body)
}

/// The body of a chunked reply.
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line = b.windows(2).position(|w| w == b"\r\n").expect("a chunk size");
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..line]).trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[line + 2..line + 2 + size]);
        b = &b[line + 4 + size..];
    }
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

#[test]
fn the_api_answers_refuses_and_downloads_what_the_cli_writes() {
    let dir = tempfile::tempdir().unwrap();
    let photo = fixture_copy(dir.path(), "chelsea.png");
    let server = Server::start(&photo);

    let (s, head, page) = server.get("/");
    assert_eq!(s, 200);
    assert!(head.contains("text/html") && String::from_utf8_lossy(&page).contains("kmquant explore"));
    // Offline: nothing on the page comes from another host.
    let text = String::from_utf8_lossy(&page);
    assert!(!text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"));
    let info = json(&server.get("/api/info").2);
    assert_eq!(
        (info["width"].as_u64(), info["height"].as_u64()),
        (Some(451), Some(300))
    );
    let cloud = json(&server.get("/api/cloud").2);
    assert_eq!(cloud["points"].as_array().unwrap().len(), 4000);

    // Previews: screen size, or a 1:1 crop; both decode.
    let (s, _, png) = server.get("/api/preview?k=8");
    assert_eq!(s, 200);
    let view = image::load_from_memory(&png).unwrap();
    assert_eq!((view.width(), view.height()), (451, 300));
    let (s, _, png) = server.get("/api/preview?k=8&x=100&y=50&w=64&h=32");
    assert_eq!(s, 200);
    let crop = image::load_from_memory(&png).unwrap().to_rgba8();
    assert_eq!(crop.dimensions(), (64, 32));
    let distinct: std::collections::HashSet<[u8; 4]> = crop.pixels().map(|p| p.0).collect();
    assert!(distinct.len() <= 8);
    let (s, _, png) = server.get("/api/original?x=0&y=0&w=10&h=10");
    assert_eq!((s, image::load_from_memory(&png).unwrap().width()), (200, 10));

    // The report.
    let r = json(&server.get("/api/report?k=12&formats=png,gif,jpg").2);
    assert_eq!(r["k"], 12);
    assert!(r["colors_used"].as_u64().unwrap() <= 12);
    assert!(r["psnr"].as_f64().unwrap() > 20.0);
    for f in ["png", "gif", "jpg"] {
        assert!(r["sizes"][f].as_u64().unwrap() > 1000, "{f}: {r}");
    }
    assert_eq!(
        r["palette"].as_array().unwrap().len(),
        r["colors_used"].as_u64().unwrap() as usize
    );

    // Downloads are the CLI's bytes for the same options, metadata included.
    let cases: [(&str, &[&str]); 4] = [
        ("k=12&format=png", &["-k", "12", "-o", "a.png"]),
        (
            "k=40&space=oklab&dither=0.5&format=gif",
            &[
                "-k",
                "40",
                "--space",
                "oklab",
                "--dither",
                "--dither-strength",
                "0.5",
                "-o",
                "b.gif",
            ],
        ),
        (
            "k=20&init=kmeans%2B%2B&seed=7&format=jpg&quality=80",
            &[
                "-k",
                "20",
                "--init",
                "kmeans++",
                "--seed",
                "7",
                "--quality",
                "80",
                "-o",
                "c.jpg",
            ],
        ),
        ("k=6&format=png&strip=1", &["-k", "6", "--strip", "-o", "d.png"]),
    ];
    for (query, args) in cases {
        let (s, head, file) = server.get(&format!("/api/file?{query}"));
        assert_eq!(s, 200, "{query}");
        assert!(head.contains("attachment; filename=\"chelsea-k"), "{head}");
        kmquant()
            .current_dir(dir.path())
            .arg(&photo)
            .args(args)
            .args(["--backend", "cpu"])
            .assert()
            .success();
        let cli = std::fs::read(dir.path().join(args[args.len() - 1])).unwrap();
        assert!(file == cli, "{query}: the download differs from the CLI's file");
    }

    // Bad parameters: 400 with a message naming the parameter.
    for (query, says) in [
        ("/api/preview?k=0", "k=0"),
        ("/api/preview?k=abc", "k=abc"),
        ("/api/report?space=lab", "space=lab"),
        ("/api/report?dither=2", "dither=2"),
        ("/api/report?init=random", "init=random"),
        ("/api/preview?x=1&y=1&w=5", "h is missing"),
        ("/api/preview?x=9999&y=0&w=5&h=5", "inside"),
        ("/api/file?format=bmp", "format=bmp"),
        ("/api/file?quality=0", "quality=0"),
        ("/api/report?formats=tiff", "formats=tiff"),
        ("/api/report?k=4&k=5", "twice"),
        ("/api/report?color=red", "unknown parameter 'color'"),
    ] {
        let (s, _, body) = server.get(query);
        let body = String::from_utf8_lossy(&body);
        assert_eq!(s, 400, "{query}: {body}");
        assert!(body.contains(says), "{query}: {body}");
    }
    assert_eq!(server.get("/api/nothing").0, 404);

    // The token, on every path; the Host header (DNS rebinding).
    for path in ["/", "/api/info", "/api/preview?k=3", "/api/file?k=3"] {
        assert_eq!(
            http_get(&server.addr, &server.addr, path).0,
            403,
            "{path} without a token"
        );
        let wrong = format!(
            "{path}{}token=00000000000000000000000000000000",
            if path.contains('?') { '&' } else { '?' }
        );
        assert_eq!(
            http_get(&server.addr, &server.addr, &wrong).0,
            403,
            "{path} with a wrong token"
        );
    }
    let with_token = format!("/api/info?token={}", server.token);
    assert_eq!(http_get(&server.addr, "evil.example:80", &with_token).0, 421);
    let port = server.addr.split(':').nth(1).unwrap();
    assert_eq!(
        http_get(&server.addr, &format!("localhost:{port}"), &with_token).0,
        200
    );
    assert_eq!(
        http(&server.addr, "POST", &server.addr, &with_token, Some("{}")).0,
        405
    );

    // A preview older than the newest one asked for is dropped, not queued.
    assert_eq!(server.get("/api/preview?k=9&seq=1000").0, 200);
    let (s, _, body) = server.get("/api/preview?k=10&seq=999");
    assert_eq!(s, 409, "{}", String::from_utf8_lossy(&body));

    // Ctrl-C stops it cleanly, and it wrote nothing beside the photo.
    let before: Vec<_> = std::fs::read_dir(dir.path()).unwrap().count().to_string().into();
    let (code, err) = server.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("explore stopped"), "{err}");
    let after: Vec<_> = std::fs::read_dir(dir.path()).unwrap().count().to_string().into();
    assert_eq!(before, after);
}

/// A WebDriver session on headless Chromium.
struct Browser {
    driver: Child,
    addr: String,
    session: String,
}

impl Browser {
    fn start() -> Browser {
        let driver_bin = [
            "chromedriver",
            "/usr/bin/chromedriver",
            "/usr/lib/chromium/chromedriver",
        ]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok())
        .expect("chromedriver is needed for the browser test (apt-get install chromium chromium-driver)");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        let t = Instant::now();
        while TcpStream::connect(&addr).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let binary = [
            "/usr/bin/chromium",
            "/usr/bin/chromium-browser",
            "/usr/bin/google-chrome",
        ]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("chromium is needed for the browser test");
        let caps = serde_json::json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": binary, "args": ["--headless=new", "--no-sandbox",
            "--disable-dev-shm-usage", "--window-size=1500,1250", "--hide-scrollbars"]}}}});
        let (s, _, body) = http(&addr, "POST", &addr, "/session", Some(&caps.to_string()));
        let v = json(&body);
        assert_eq!(s, 200, "{v}");
        let session = v["value"]["sessionId"].as_str().unwrap().to_string();
        Browser {
            driver,
            addr,
            session,
        }
    }

    fn post(&self, what: &str, body: serde_json::Value) -> serde_json::Value {
        let path = format!("/session/{}/{what}", self.session);
        let (s, _, out) = http(&self.addr, "POST", &self.addr, &path, Some(&body.to_string()));
        let v = json(&out);
        assert_eq!(s, 200, "{what}: {v}");
        v["value"].clone()
    }

    fn script(&self, js: &str) -> serde_json::Value {
        self.post("execute/sync", serde_json::json!({"script": js, "args": []}))
    }

    /// Runs `js` until it returns something truthy, for at most 60 s.
    fn wait_for(&self, js: &str, what: &str) -> serde_json::Value {
        let t = Instant::now();
        loop {
            let v = self.script(js);
            if !(v.is_null() || v == false) {
                return v;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn screenshot(&self) -> Vec<u8> {
        let path = format!("/session/{}/screenshot", self.session);
        let (_, _, out) = http(&self.addr, "GET", &self.addr, &path, None);
        base64(json(&out)["value"].as_str().unwrap())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let path = format!("/session/{}", self.session);
        let _ = http(&self.addr, "DELETE", &self.addr, &path, None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    clean
        .chunks(4)
        .flat_map(|q| {
            let n = q
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &c)| n | (val(c) as u32) << (18 - 6 * i));
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            bytes.into_iter().take(q.len() - 1)
        })
        .collect()
}

/// A fingerprint of the picture an <img> shows, read through a canvas.
const IMAGE_SUM: &str = "const i = document.getElementById('preview');
    if (!i.complete || !i.naturalWidth) return null;
    const c = document.createElement('canvas'); c.width = i.naturalWidth; c.height = i.naturalHeight;
    const g = c.getContext('2d'); g.drawImage(i, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data; let s = 0;
    for (let j = 0; j < d.length; j += 7) s = (s * 31 + d[j]) % 1000000007;
    return [i.src, s];";

#[test]
fn the_page_in_a_real_browser_follows_the_k_slider() {
    let dir = tempfile::tempdir().unwrap();
    let photo = fixture_copy(dir.path(), "chelsea.png");
    let server = Server::start(&photo);
    let browser = Browser::start();
    browser.post("url", serde_json::json!({"url": server.url}));
    browser.wait_for(
        "return document.getElementById('report').dataset.k === '16'",
        "the first report",
    );
    let first = browser.wait_for(IMAGE_SUM, "the first preview");

    browser
        .script("const k = document.getElementById('k'); k.value = 40; k.dispatchEvent(new Event('input'));");
    browser.wait_for(
        "return document.getElementById('report').dataset.k === '40'",
        "the report for K = 40",
    );
    let second = browser.wait_for(IMAGE_SUM, "the new preview");
    assert_ne!(first[0], second[0], "the preview's address changed");
    assert_ne!(first[1], second[1], "the preview's pixels changed");
    let report = browser.script("return document.getElementById('report').innerText");
    assert!(report.as_str().unwrap().contains("40"), "{report}");
    let caption = browser.script("return document.getElementById('qcap').textContent");
    assert!(
        caption.as_str().unwrap().starts_with("quantized: K = 40"),
        "{caption}"
    );
    let swatches = browser.script("return document.querySelectorAll('#swatches span').length");
    assert!((1..=40).contains(&swatches.as_u64().unwrap()));
    // The 3-D view rendered: many pixels that are neither blank nor background.
    let drawn = browser.script(
        "const c = document.getElementById('cloud'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
         let n = 0; for (let j = 0; j < d.length; j += 4) if (d[j + 3] > 0 && !(d[j] > 245 && d[j + 1] > 245 && d[j + 2] > 245)) n++;
         return n;",
    );
    assert!(
        drawn.as_u64().unwrap() > 2000,
        "{drawn} pixels drawn in the 3-D view"
    );
    let png = browser.screenshot();
    let shot = image::load_from_memory(&png).unwrap();
    assert!(shot.width() >= 1000);
    let out = std::env::var("KMQUANT_SCREENSHOT")
        .unwrap_or_else(|_| format!("{}/explore-screenshot.png", env!("CARGO_TARGET_TMPDIR")));
    std::fs::write(&out, &png).unwrap();
    drop(browser);
    let (code, _) = server.stop();
    assert_eq!(code, Some(0));
}
