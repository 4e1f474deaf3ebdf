//! Raw HTTP against the fake (HTTP/1.0, so bodies come unframed and watch lines can be read as
//! they arrive), and a kube client for it.

#![allow(dead_code)]

use std::time::Duration;

use fake_apiserver::FakeApiServer;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How long a test waits for one watch line.
pub const WAIT: Duration = Duration::from_secs(5);

async fn request(fake: &FakeApiServer, path: &str) -> (u16, BufReader<TcpStream>) {
    let addr = fake.url().trim_start_matches("http://").to_owned();
    let mut tcp = TcpStream::connect(&addr).await.expect("connect");
    tcp.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .expect("send request");
    let mut reader = BufReader::new(tcp);
    let mut status_line = String::new();
    reader
        .read_line(&mut status_line)
        .await
        .expect("status line");
    let code = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).await.expect("header");
        if header.trim().is_empty() {
            break;
        }
    }
    (code, reader)
}

/// `GET path`: the status code and the JSON body.
pub async fn get(fake: &FakeApiServer, path: &str) -> (u16, Value) {
    let (code, mut reader) = request(fake, path).await;
    let mut body = String::new();
    tokio::time::timeout(WAIT, reader.read_to_string(&mut body))
        .await
        .expect("body in time")
        .expect("body");
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (code, json)
}

/// An open watch response, read line by line.
pub struct Watch {
    pub code: u16,
    reader: BufReader<TcpStream>,
}

impl Watch {
    pub async fn open(fake: &FakeApiServer, path: &str) -> Watch {
        let (code, reader) = request(fake, path).await;
        Watch { code, reader }
    }

    /// The next event, `None` when the response ended.
    pub async fn next(&mut self) -> Option<Value> {
        let mut line = String::new();
        let read = tokio::time::timeout(WAIT, self.reader.read_line(&mut line))
            .await
            .expect("a watch line in time")
            .expect("read a watch line");
        (read > 0).then(|| serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")))
    }

    /// The next event that is not a bookmark.
    pub async fn next_event(&mut self) -> Value {
        loop {
            let event = self.next().await.expect("an event before the end");
            if event["type"] != "BOOKMARK" {
                return event;
            }
        }
    }
}

/// The `(type, name)` of a watch event.
pub fn summary(event: &Value) -> (String, String) {
    (
        event["type"].as_str().unwrap_or_default().to_owned(),
        event["object"]["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// The names of a list's items.
pub fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["metadata"]["name"].as_str().expect("name").to_owned())
        .collect()
}

pub fn kube_client(fake: &FakeApiServer) -> kube::Client {
    let config = kube::Config::new(fake.url().parse().expect("fake URL"));
    kube::Client::try_from(config).expect("client")
}
