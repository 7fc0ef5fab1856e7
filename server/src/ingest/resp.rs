//! The connection the stream source reads XREADGROUP replies on, parsed straight off the
//! socket. A busy stream answers each read with ~2 MB (2,000 entries of ~1 KB); redis' own
//! reply parser spent a fifth of taskdeck's ingest CPU on them. This one reads the same RESP2
//! reply into a `redis::Value` in one buffered pass. Every other command goes through the
//! shared connection manager.

use redis::{ConnectionAddr, ConnectionInfo, RedisError, RedisResult, Value};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt,
};

trait Socket: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Socket for T {}

type Conn = tokio::io::BufReader<Box<dyn Socket>>;

/// Connected on first use, dropped after any error (the next command reconnects), so a Redis
/// that goes away and comes back is picked up again.
pub struct ReplyConn {
    info: ConnectionInfo,
    timeout: Duration,
    conn: Option<Conn>,
}

impl ReplyConn {
    /// `timeout` bounds connecting and each command, blocking ones included.
    pub fn new(client: &redis::Client, timeout: Duration) -> ReplyConn {
        ReplyConn {
            info: client.get_connection_info().clone(),
            timeout,
            conn: None,
        }
    }

    /// Sends `cmd` and reads its reply.
    pub async fn query(&mut self, cmd: &redis::Cmd) -> RedisResult<Value> {
        let timeout = self.timeout;
        let answer = tokio::time::timeout(timeout, async {
            let conn = match &mut self.conn {
                Some(conn) => conn,
                slot => slot.insert(connect(&self.info).await?),
            };
            send(conn, cmd).await
        })
        .await
        .unwrap_or_else(|_| {
            Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer from Redis within {timeout:?}"),
            )))
        });
        if answer.is_err() {
            // Whatever is left of the reply is unread: the connection cannot be reused.
            self.conn = None;
        }
        answer
    }
}

async fn connect(info: &ConnectionInfo) -> RedisResult<Conn> {
    let socket: Box<dyn Socket> = match info.addr() {
        ConnectionAddr::Tcp(host, port) => {
            let s = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
            s.set_nodelay(true)?;
            Box::new(s)
        }
        #[cfg(unix)]
        ConnectionAddr::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
        other => {
            return Err(RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "unsupported Redis address for the event stream",
                format!("{other}"),
            )))
        }
    };
    let mut conn = tokio::io::BufReader::with_capacity(256 * 1024, socket);
    let settings = info.redis_settings();
    if let Some(password) = settings.password() {
        let mut auth = redis::cmd("AUTH");
        if let Some(user) = settings.username() {
            auth.arg(user);
        }
        send(&mut conn, auth.arg(password)).await?;
    }
    if settings.db() != 0 {
        send(&mut conn, redis::cmd("SELECT").arg(settings.db())).await?;
    }
    Ok(conn)
}

async fn send(conn: &mut Conn, cmd: &redis::Cmd) -> RedisResult<Value> {
    conn.get_mut().write_all(&cmd.get_packed_command()).await?;
    read_value(conn, &mut Vec::with_capacity(64)).await
}

fn protocol_error(what: String) -> RedisError {
    RedisError::from((redis::ErrorKind::Parse, "unexpected reply from Redis", what))
}

/// One RESP2 value. Server errors come back as `Err` with Redis' code (`NOGROUP`, …).
/// `line` is scratch space for header lines, reused all the way down.
fn read_value<'a, R: AsyncBufRead + Unpin + Send>(
    r: &'a mut R,
    line: &'a mut Vec<u8>,
) -> Pin<Box<dyn Future<Output = RedisResult<Value>> + Send + 'a>> {
    Box::pin(async move {
        let kind = read_line(r, line).await?;
        let number = |line: &[u8]| {
            std::str::from_utf8(line)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| {
                    protocol_error(format!(
                        "`{}` is not a length",
                        String::from_utf8_lossy(line)
                    ))
                })
        };
        match kind {
            b'+' => Ok(Value::SimpleString(
                String::from_utf8_lossy(line).into_owned(),
            )),
            b'-' => {
                let text = String::from_utf8_lossy(line).into_owned();
                let (code, detail) = text.split_once(' ').unwrap_or((&text, ""));
                Err(redis::make_extension_error(
                    code.to_owned(),
                    Some(detail.to_owned()),
                ))
            }
            b':' => Ok(Value::Int(number(line)?)),
            b'$' => {
                let n = number(line)?;
                if n < 0 {
                    return Ok(Value::Nil);
                }
                // Read into spare capacity: no zeroing, no reallocation.
                let want = n as usize + 2;
                let mut body = Vec::with_capacity(want);
                while body.len() < want {
                    let left = (want - body.len()) as u64;
                    if (&mut *r).take(left).read_buf(&mut body).await? == 0 {
                        return Err(eof());
                    }
                }
                if !body.ends_with(b"\r\n") {
                    return Err(protocol_error("a bulk string without its end".into()));
                }
                body.truncate(n as usize);
                Ok(Value::BulkString(body))
            }
            b'*' => {
                let n = number(line)?;
                if n < 0 {
                    return Ok(Value::Nil);
                }
                let mut items = Vec::with_capacity(n.min(1 << 16) as usize);
                for _ in 0..n {
                    items.push(read_value(r, line).await?);
                }
                Ok(Value::Array(items))
            }
            other => Err(protocol_error(format!(
                "unknown reply type {:?}",
                char::from(other)
            ))),
        }
    })
}

/// Reads a header line into `line` (its text after the type byte, without `\r\n`) and
/// returns the type byte.
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, line: &mut Vec<u8>) -> RedisResult<u8> {
    line.clear();
    r.read_until(b'\n', line).await?;
    if line.is_empty() {
        return Err(eof());
    }
    if line.len() < 3 || !line.ends_with(b"\r\n") {
        return Err(protocol_error(format!(
            "a reply line `{}`",
            String::from_utf8_lossy(line)
        )));
    }
    line.truncate(line.len() - 2);
    let kind = line[0];
    line.remove(0);
    Ok(kind)
}

fn eof() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "Redis closed the connection",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> RedisResult<Value> {
        let mut r = tokio::io::BufReader::with_capacity(7, bytes);
        read_value(&mut r, &mut Vec::new()).await
    }

    #[tokio::test]
    async fn reads_the_values_an_xreadgroup_reply_holds() {
        let reply = b"*1\r\n*2\r\n$15\r\ntaskdeck:events\r\n*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$5\r\nevent\r\n$7\r\n{\"a\":1}\r\n*2\r\n$3\r\n2-0\r\n*-1\r\n";
        let v = parse(reply).await.unwrap();
        let entry =
            |id: &str, fields: Value| Value::Array(vec![Value::BulkString(id.into()), fields]);
        assert_eq!(
            v,
            Value::Array(vec![Value::Array(vec![
                Value::BulkString(b"taskdeck:events".to_vec()),
                Value::Array(vec![
                    entry(
                        "1-0",
                        Value::Array(vec![
                            Value::BulkString(b"event".to_vec()),
                            Value::BulkString(b"{\"a\":1}".to_vec()),
                        ])
                    ),
                    entry("2-0", Value::Nil),
                ]),
            ])])
        );
        assert_eq!(parse(b"*-1\r\n").await.unwrap(), Value::Nil);
        assert_eq!(parse(b"$-1\r\n").await.unwrap(), Value::Nil);
        assert_eq!(parse(b":42\r\n").await.unwrap(), Value::Int(42));
        assert_eq!(
            parse(b"+OK\r\n").await.unwrap(),
            Value::SimpleString("OK".into())
        );
    }

    #[tokio::test]
    async fn errors_keep_their_code_and_bad_replies_are_refused() {
        let e = parse(b"-NOGROUP No such key 'taskdeck:events'\r\n")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("NOGROUP"));
        for bad in [
            &b"$5\r\nabc"[..],
            b"$3\r\nabcde",
            b"*2\r\n:1\r\n",
            b"?x\r\n",
            b"$x\r\n",
            b":1\n",
            b"",
        ] {
            assert!(
                parse(bad).await.is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
