//! The S3 side of an export: one object per resource, written in one `PutObject` when it
//! fits one part, else as a multipart upload whose id and part ETags live in the job's
//! `state` (so a crashed run's successor goes on with the same upload).

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use serde::{Deserialize, Serialize};

use super::export::ExportError;

/// The object's content type: JSON Lines.
pub(crate) const CONTENT_TYPE: &str = "application/x-ndjson";

/// An unfinished multipart upload of one resource's file (in `state.export.upload`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Upload {
    pub resource: String,
    pub key: String,
    pub upload_id: String,
    /// The parts uploaded so far, in order (part numbers 1, 2, …).
    pub parts: Vec<Part>,
    /// Lines and bytes of those parts.
    pub lines: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Part {
    pub number: i32,
    pub etag: String,
}

/// The exporter's share of the job's `state`: `{"export": {"upload": …}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ExportState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<Upload>,
}

const STATE_KEY: &str = "export";

impl ExportState {
    pub(crate) fn read(state: &serde_json::Value) -> Result<Self, ExportError> {
        match state.get(STATE_KEY) {
            None | Some(serde_json::Value::Null) => Ok(Self::default()),
            Some(value) => serde_json::from_value(value.clone()).map_err(ExportError::State),
        }
    }

    /// Writes itself into `state` (an object; anything else there is kept).
    pub(crate) fn write(&self, state: &mut serde_json::Value) {
        if !state.is_object() {
            *state = serde_json::Value::Object(Default::default());
        }
        if let Some(map) = state.as_object_mut() {
            let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
            map.insert(STATE_KEY.to_owned(), value);
        }
    }
}

/// The bucket and its client.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    pub s3: aws_sdk_s3::Client,
    pub name: String,
}

impl Bucket {
    pub(crate) async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), ExportError> {
        self.s3
            .put_object()
            .bucket(&self.name)
            .key(key)
            .content_type(CONTENT_TYPE)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| ExportError::s3("PutObject", e))?;
        Ok(())
    }

    pub(crate) async fn start(&self, key: &str) -> Result<String, ExportError> {
        let out = self
            .s3
            .create_multipart_upload()
            .bucket(&self.name)
            .key(key)
            .content_type(CONTENT_TYPE)
            .send()
            .await
            .map_err(|e| ExportError::s3("CreateMultipartUpload", e))?;
        out.upload_id
            .ok_or(ExportError::MissingKey("UploadId of CreateMultipartUpload"))
    }

    /// Uploads part `number` (again, after a crash: S3 keeps the last upload of a number).
    pub(crate) async fn part(
        &self,
        upload: &Upload,
        number: i32,
        body: Vec<u8>,
    ) -> Result<String, ExportError> {
        let out = self
            .s3
            .upload_part()
            .bucket(&self.name)
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| ExportError::s3("UploadPart", e))?;
        out.e_tag
            .ok_or(ExportError::MissingKey("ETag of UploadPart"))
    }

    pub(crate) async fn complete(&self, upload: &Upload) -> Result<(), ExportError> {
        let parts = upload
            .parts
            .iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(p.number)
                    .e_tag(&p.etag)
                    .build()
            })
            .collect();
        self.s3
            .complete_multipart_upload()
            .bucket(&self.name)
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| ExportError::s3("CompleteMultipartUpload", e))?;
        Ok(())
    }

    /// Whether `key` exists (an upload completed by a run that crashed before saving it).
    pub(crate) async fn exists(&self, key: &str) -> Result<bool, ExportError> {
        match self
            .s3
            .head_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(e) => Err(ExportError::s3("HeadObject", e)),
        }
    }
}

/// Whether an S3 error says the multipart upload is gone (completed or aborted).
pub(crate) fn is_no_such_upload(error: &ExportError) -> bool {
    matches!(error, ExportError::S3 { code: Some(code), .. } if code == "NoSuchUpload")
}
