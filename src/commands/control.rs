//! `cellgate recipe` and `cellgate teach`: requests to the running station over its control socket
//! (`control.socket`, by default `model_updates.state_dir/control.sock`).

use std::path::Path;
use std::time::Duration;

use cellgate::config::StationConfig;
use cellgate::control::{client, Answer, Request};

use super::CliError;

/// How long a request other than a teach may take (a confirm loads and self-tests the model).
const ANSWER_WAIT: Duration = Duration::from_secs(660);

/// What `cellgate teach` asks for.
pub enum TeachAction {
    Teach { force: bool, timeout: Duration },
    Confirm,
    Discard,
    Rollback,
}

pub fn recipe(config: &Path, name: Option<String>) -> Result<(), CliError> {
    let answer = ask(config, &Request::Recipe { name }, ANSWER_WAIT)?;
    print(answer)
}

pub fn teach(config: &Path, recipe: String, action: TeachAction) -> Result<(), CliError> {
    let (req, wait) = match action {
        TeachAction::Teach { force, timeout } => {
            if timeout.is_zero() || timeout > cellgate::control::MAX_TEACH_WAIT {
                return Err(CliError::Usage(format!(
                    "--timeout {} is outside 1..={} s",
                    timeout.as_secs(),
                    cellgate::control::MAX_TEACH_WAIT.as_secs()
                )));
            }
            let what = if force { "plausible frame" } else { "good part" };
            eprintln!("waiting up to {} s for the next {what} of recipe '{recipe}'...", timeout.as_secs());
            let req = Request::Teach { recipe, force, timeout_ms: timeout.as_millis() as u64 };
            (req, timeout + Duration::from_secs(10))
        }
        TeachAction::Confirm => (Request::Confirm { recipe }, ANSWER_WAIT),
        TeachAction::Discard => (Request::Discard { recipe }, ANSWER_WAIT),
        TeachAction::Rollback => (Request::Rollback { recipe }, ANSWER_WAIT),
    };
    print(ask(config, &req, wait)?)
}

fn ask(config: &Path, req: &Request, wait: Duration) -> Result<Answer, CliError> {
    let cfg = StationConfig::load_for_model_tools(config)?;
    Ok(client::ask(&cfg.control_socket(), req, wait)?)
}

fn print(answer: Answer) -> Result<(), CliError> {
    match answer {
        Answer::Recipe { active, previous: None, recipes } => {
            println!("active recipe: {active} (recipes: {})", recipes.join(", "));
        }
        Answer::Recipe { active, previous: Some(previous), .. } => {
            println!("recipe {previous} -> {active}: from the next part on");
        }
        Answer::Taught(t) => {
            println!("candidate: {} ({}x{}, {} bytes)", t.path.display(), t.width, t.height, t.bytes);
            println!("look at it, then --confirm to make it the reference, or --discard");
        }
        Answer::TookOver(t) => println!(
            "recipe {}: {} is the reference now (sha256 {}), taking over at the next part; the old one is {}",
            t.recipe,
            t.reference.display(),
            t.sha256,
            t.previous.display()
        ),
        Answer::Discarded { path } => println!("candidate {} discarded", path.display()),
        Answer::Refused { reason } => return Err(CliError::Refused(reason)),
    }
    Ok(())
}
