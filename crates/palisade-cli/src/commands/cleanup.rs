//! `palisade cleanup`: delete this node's `inet palisade` table, the one thing an uninstall
//! must do by hand because agents leave their rules in force when they stop.

use palisade_dataplane::Dataplane;

use crate::Exit;
use crate::cli::CleanupArgs;

pub fn run(args: CleanupArgs) -> Exit {
    let dataplane = Dataplane::new();
    if args.check {
        return match dataplane.table_exists() {
            Ok(false) => Exit::Ok,
            Ok(true) => {
                eprintln!("table inet palisade is still in force on this node");
                Exit::Findings
            }
            Err(e) => fail(&e),
        };
    }
    let existed = match dataplane.table_exists() {
        Ok(existed) => existed,
        Err(e) => return fail(&e),
    };
    if let Err(e) = dataplane.remove_table() {
        return fail(&e);
    }
    eprintln!(
        "{}",
        if existed {
            "removed table inet palisade; no palisade rules are left on this node"
        } else {
            "no palisade table on this node; nothing to remove"
        }
    );
    if args.wait {
        wait_for_signal();
    }
    Exit::Ok
}

fn fail(e: &palisade_dataplane::Error) -> Exit {
    eprintln!("error: {e}");
    Exit::Usage
}

/// Idles until SIGTERM or SIGINT, then returns (exit 0: a cleanup pod that is told to stop
/// has done its job).
fn wait_for_signal() {
    let (handle, shutdown) = palisade_agent::shutdown_channel();
    if let Err(e) = palisade_agent::shutdown_on_signals(handle) {
        eprintln!("warning: cannot listen for SIGTERM: {e}; stop with SIGKILL");
    }
    shutdown.wait();
}
