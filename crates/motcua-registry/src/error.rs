use motcua_db::DbError;

pub use motcua_domain::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid input: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for RegistryError {
    fn from(e: sqlx::Error) -> Self {
        RegistryError::Db(DbError::Sqlx(e))
    }
}

impl RegistryError {
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> RegistryError {
        RegistryError::Invalid(vec![FieldError::new(field, code, message)])
    }
}

pub type Result<T> = std::result::Result<T, RegistryError>;
