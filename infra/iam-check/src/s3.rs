//! S3 requests in the recording: the REST operation (path-style, as the emulator is
//! addressed) and the action IAM authorizes it as, and the signer of a presigned URL.

use crate::policy::Request;
use crate::recording::{plain, Names};

/// The `X-Amz-Credential` of a presigned URL's query, percent-decoded.
pub(crate) fn presigned_credential(url: &str) -> Option<String> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("X-Amz-Credential="))
        .map(percent_decode)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An S3 REST request (path-style, as the emulator is addressed: `/<bucket>/<key>?…`) as
/// the operation it is and the action IAM authorizes it as: every write of an object —
/// `PutObject`, a multipart upload's create, parts and completion — is `s3:PutObject`,
/// `HeadObject` is `s3:GetObject`; bucket configuration is its own action on the bucket.
pub(crate) fn authorization(method: &str, url: &str, names: &Names) -> (String, Request) {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path_and_query = without_scheme
        .find('/')
        .map_or("/", |at| &without_scheme[at..]);
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').map_or(p, |(k, _)| k))
        .collect();
    let has = |name: &str| params.contains(&name);
    let path = path.trim_start_matches('/');
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    let bucket = names.bucket(&percent_decode(bucket));
    let key = percent_decode(key);
    let (operation, action) = if key.is_empty() {
        let configuration = [
            ("encryption", "EncryptionConfiguration"),
            ("publicAccessBlock", "BucketPublicAccessBlock"),
            ("ownershipControls", "BucketOwnershipControls"),
            ("lifecycle", "LifecycleConfiguration"),
            ("policy", "BucketPolicy"),
        ]
        .into_iter()
        .find(|(param, _)| has(param));
        match (method, configuration) {
            ("PUT", Some((_, what))) => (format!("Put{what}"), format!("s3:Put{what}")),
            ("DELETE", Some((_, what))) => (format!("Delete{what}"), format!("s3:Put{what}")),
            (_, Some((_, what))) => (format!("Get{what}"), format!("s3:Get{what}")),
            ("PUT", None) => ("CreateBucket".into(), "s3:CreateBucket".into()),
            ("DELETE", None) => ("DeleteBucket".into(), "s3:DeleteBucket".into()),
            (_, None) => ("ListObjects".into(), "s3:ListBucket".into()),
        }
    } else {
        let (operation, action) = match method {
            "GET" if has("uploadId") => ("ListParts", "s3:ListMultipartUploadParts"),
            "GET" => ("GetObject", "s3:GetObject"),
            "HEAD" => ("HeadObject", "s3:GetObject"),
            "POST" if has("uploads") => ("CreateMultipartUpload", "s3:PutObject"),
            "POST" if has("uploadId") => ("CompleteMultipartUpload", "s3:PutObject"),
            "PUT" if has("partNumber") => ("UploadPart", "s3:PutObject"),
            "PUT" => ("PutObject", "s3:PutObject"),
            "DELETE" if has("uploadId") => ("AbortMultipartUpload", "s3:AbortMultipartUpload"),
            "DELETE" => ("DeleteObject", "s3:DeleteObject"),
            _ => ("UnknownOperation", "s3:UnknownOperation"),
        };
        (operation.to_owned(), action.to_owned())
    };
    let resource = if key.is_empty() {
        format!("arn:aws:s3:::{bucket}")
    } else {
        format!("arn:aws:s3:::{bucket}/{key}")
    };
    (operation, plain(action, resource))
}

#[cfg(test)]
mod tests {
    use super::*;
    use packr_local::template::Template;

    fn names() -> Names {
        Names::new(&Template::repo_default().expect("template.yaml parses")).unwrap()
    }

    #[test]
    fn s3_object_writes_of_every_kind_are_put_object_on_the_canonical_bucket() {
        // given the requests of an export's multipart upload and its HEAD, on a test bucket
        let n = names();
        let object = "http://127.0.0.1:5000/b-1a2b-exportbucket/exports/acme/lc_1/orders.jsonl";
        let cases = [
            (
                "PUT",
                format!("{object}?x-id=PutObject"),
                "PutObject",
                "s3:PutObject",
            ),
            (
                "POST",
                format!("{object}?uploads"),
                "CreateMultipartUpload",
                "s3:PutObject",
            ),
            (
                "PUT",
                format!("{object}?partNumber=2&uploadId=u1&x-id=UploadPart"),
                "UploadPart",
                "s3:PutObject",
            ),
            (
                "POST",
                format!("{object}?uploadId=u1"),
                "CompleteMultipartUpload",
                "s3:PutObject",
            ),
            ("HEAD", object.to_owned(), "HeadObject", "s3:GetObject"),
            (
                "GET",
                format!("{object}?X-Amz-Expires=3600"),
                "GetObject",
                "s3:GetObject",
            ),
            (
                "DELETE",
                format!("{object}?uploadId=u1"),
                "AbortMultipartUpload",
                "s3:AbortMultipartUpload",
            ),
        ];
        for (method, url, operation, action) in cases {
            // when it is read as an authorization
            let (op, request) = authorization(method, &url, &n);
            // then it is the action on the object of the canonical bucket
            assert_eq!(op, operation, "{method} {url}");
            assert_eq!(request.action, action, "{method} {url}");
            assert_eq!(
                request.resource,
                "arn:aws:s3:::stack-exportbucket/exports/acme/lc_1/orders.jsonl"
            );
        }
        // and bucket configuration is its own action on the bucket
        let (op, request) = authorization("PUT", "http://h/p-9-exportbucket?lifecycle", &n);
        assert_eq!(op, "PutLifecycleConfiguration");
        assert_eq!(request.action, "s3:PutLifecycleConfiguration");
        assert_eq!(request.resource, "arn:aws:s3:::stack-exportbucket");
    }

    #[test]
    fn a_presigned_url_is_attributed_to_the_function_that_signed_it() {
        // given a GET of a presigned URL (no Authorization header; the credential in the query)
        let entry = serde_json::json!({
            "headers": {"Host": "127.0.0.1:5000"},
            "method": "GET",
            "url": "http://127.0.0.1:5000/b-1-exportbucket/exports/acme/lc_1/messages.jsonl?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=PACKRFN-api-connections%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Expires=3600&X-Amz-Signature=00",
            "body": "",
        })
        .to_string();
        // when the recording is read
        let recorded = crate::recording::parse(&entry, &names()).unwrap();
        // then the download is api-connections' s3:GetObject of the object
        assert_eq!(recorded.unsigned, 0);
        let a = &recorded.authorizations[0];
        assert_eq!(a.function, "api-connections");
        assert_eq!(a.request.action, "s3:GetObject");
        assert_eq!(
            a.request.resource,
            "arn:aws:s3:::stack-exportbucket/exports/acme/lc_1/messages.jsonl"
        );
    }
}
