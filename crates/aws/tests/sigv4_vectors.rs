//! [`airlock_aws::sigv4::sign`] against AWS's published SigV4 test suite (the
//! `aws-signing-test-suite/v4` of awslabs/aws-c-auth, as shipped in the aws-sigv4 crate;
//! the successor of the "Signature Version 4 test suite" of the AWS General Reference).
//! Every vector: credentials `AKIDEXAMPLE` / `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`,
//! region `us-east-1`, service `service`, time `2015-08-30T12:36:00Z`; each expected
//! value is the vector's `header-signature.txt` and the signed-header line of its
//! `header-canonical-request.txt`.

use airlock_aws::Credentials;
use airlock_aws::sigv4::sign;
use airlock_stage::http::Request;

/// 2015-08-30T12:36:00Z.
const TIME: u64 = 1_440_938_160;

struct Vector {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
    token: Option<&'static str>,
    sign_body: bool,
    signed_headers: &'static str,
    signature: &'static str,
}

const HOST: (&str, &str) = ("Host", "example.amazonaws.com");

const VECTORS: &[Vector] = &[
    Vector {
        name: "get-vanilla",
        method: "GET",
        path: "/",
        headers: &[HOST],
        body: "",
        token: None,
        sign_body: false,
        signed_headers: "host;x-amz-date",
        signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    Vector {
        name: "get-vanilla-query-order-key-case",
        method: "GET",
        path: "/?Param2=value2&Param1=value1",
        headers: &[HOST],
        body: "",
        token: None,
        sign_body: false,
        signed_headers: "host;x-amz-date",
        signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    },
    Vector {
        name: "get-vanilla-empty-query-key",
        method: "GET",
        path: "/?Param1=value1",
        headers: &[HOST],
        body: "",
        token: None,
        sign_body: false,
        signed_headers: "host;x-amz-date",
        signature: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
    },
    Vector {
        name: "get-header-value-trim",
        method: "GET",
        path: "/",
        headers: &[
            HOST,
            ("My-Header1", " value1"),
            ("My-Header2", " \"a   b   c\""),
        ],
        body: "",
        token: None,
        sign_body: false,
        signed_headers: "host;my-header1;my-header2;x-amz-date",
        signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    },
    Vector {
        name: "post-vanilla",
        method: "POST",
        path: "/",
        headers: &[HOST],
        body: "",
        token: None,
        sign_body: false,
        signed_headers: "host;x-amz-date",
        signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    },
    Vector {
        name: "post-header-key-sort",
        method: "POST",
        path: "/",
        headers: &[HOST, ("My-Header1", "value1")],
        body: "",
        token: None,
        sign_body: false,
        signed_headers: "host;my-header1;x-amz-date",
        signature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
    },
    Vector {
        name: "get-vanilla-with-session-token",
        method: "GET",
        path: "/",
        headers: &[HOST],
        body: "",
        token: Some("6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"),
        sign_body: false,
        signed_headers: "host;x-amz-date;x-amz-security-token",
        signature: "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
    },
    Vector {
        name: "post-x-www-form-urlencoded",
        method: "POST",
        path: "/",
        headers: &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            HOST,
            ("Content-Length", "13"),
        ],
        body: "Param1=value1",
        token: None,
        sign_body: true,
        signed_headers: "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
        signature: "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
    },
    Vector {
        name: "post-x-www-form-urlencoded-parameters",
        method: "POST",
        path: "/",
        headers: &[
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            HOST,
            ("Content-Length", "13"),
        ],
        body: "Param1=value1",
        token: None,
        sign_body: true,
        signed_headers: "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
        signature: "328d1b9eaadca9f5818ef05e8392801e091653bafec24fcab71e7344e7f51422",
    },
];

fn creds(token: Option<&str>) -> Credentials {
    Credentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        session_token: token.map(String::from),
        expiration: None,
    }
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn aws_published_vectors() {
    for v in VECTORS {
        let mut req = Request {
            method: v.method.into(),
            url: format!("https://example.amazonaws.com{}", v.path),
            headers: v
                .headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: v.body.as_bytes().to_vec(),
            ..Default::default()
        };
        sign(
            &mut req,
            &creds(v.token),
            "us-east-1",
            "service",
            TIME,
            v.sign_body,
        )
        .unwrap();
        let expected = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={}, Signature={}",
            v.signed_headers, v.signature
        );
        assert_eq!(
            header(&req, "authorization"),
            Some(expected.as_str()),
            "{}",
            v.name
        );
        assert_eq!(
            header(&req, "x-amz-date"),
            Some("20150830T123600Z"),
            "{}",
            v.name
        );
        assert_eq!(header(&req, "x-amz-security-token"), v.token, "{}", v.name);
    }
}

/// The stage's requests carry no `Host` header (wasi:http sends the URL's authority): the
/// signer must sign the same host from the URL.
#[test]
fn host_comes_from_the_url() {
    let mut req = Request::get("https://example.amazonaws.com/");
    sign(&mut req, &creds(None), "us-east-1", "service", TIME, false).unwrap();
    assert!(
        header(&req, "authorization").unwrap().ends_with(
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        )
    );
}
