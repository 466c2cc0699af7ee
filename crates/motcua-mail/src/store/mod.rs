//! Every SQL statement of mail: the development mailbox. A test of the workspace
//! (`sql_appears_only_in_store_modules`) fails when SQL appears outside a `store` module or
//! `motcua-db`.

pub mod dev_mailbox;
