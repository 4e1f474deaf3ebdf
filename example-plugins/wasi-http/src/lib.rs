//! `wasi:http` directly, for authors who need streaming or a method other than GET: the
//! check `first-line` GETs `http://<first pod IP>:<port><path>` (settings `port`, `path`)
//! through `wasi:http/outgoing-handler` and shows the body's first line. The host applies the
//! same allow-list, body cap and deadline as to the one-call `http.get` (see `../web` for
//! that simpler route).

use std::io::Read;

use kube_shields_plugin::{Context, checks};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, Method, OutgoingRequest, Scheme};

fn first_line(ctx: &Context) -> Result<String, String> {
    let ip = ctx
        .pods
        .first()
        .and_then(|pod| pod.ip.as_deref())
        .ok_or("no pod IP")?;
    let port = ctx.config("port").unwrap_or("8080");
    let path = ctx.config("path").unwrap_or("/");
    let request = OutgoingRequest::new(Fields::new());
    request.set_method(&Method::Get).map_err(|()| "method")?;
    request.set_scheme(Some(&Scheme::Http)).map_err(|()| "scheme")?;
    request
        .set_authority(Some(&format!("{ip}:{port}")))
        .map_err(|()| "authority")?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| "path")?;
    let pending = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    pending.subscribe().block();
    let response = pending
        .get()
        .ok_or("no response")?
        .map_err(|()| "response taken")?
        .map_err(|e| format!("{e:?}"))?;
    let body = response.consume().map_err(|()| "body taken")?;
    let mut text = String::new();
    {
        // The stream is a child of the body and must go first.
        let mut stream = body.stream().map_err(|()| "stream taken")?;
        stream
            .read_to_string(&mut text)
            .map_err(|e| format!("reading the body: {e}"))?;
    }
    Ok(text.lines().next().unwrap_or_default().trim().to_owned())
}

checks! {
    /// The first line of the first pod's answer to GET <path> on <port>, over wasi:http.
    "first-line" => first_line,
}
