//! The upload stage (placeholder until its library lands).

fn run(req: &airlock_stage::Request) -> Result<serde_json::Value, airlock_stage::StageError> {
    Err(airlock_stage::StageError::internal(format!(
        "stage {} is not implemented yet",
        req.stage_id
    )))
}

airlock_stage::export_stage!(run);
