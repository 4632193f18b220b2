//! One module per `tessera` subcommand: its flags (clap `Args`) and its `run` function.

pub mod diff;
pub mod hostile;
pub mod keygen;
pub mod pack;
pub mod serve;
pub mod token;
pub mod verify;
