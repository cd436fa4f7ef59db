//! The config file (`--config FILE`, `BOXLIFT_CONFIG`): TOML whose keys are the long flag names,
//! merged into the command line generically through clap's introspection, so a flag added later
//! is a config key without any edit here.
//!
//! Layout: top-level keys are the global options (`log-format`, `verbose`); a table per verb
//! (`[migrate]`, `[scan]`, `[audit]`, `[verify]`, `[emulator]`) takes that verb's flags, its
//! positional argument by name (`src`, `manifest`); and `[box]` takes the Box connection options
//! ([`BoxArgs`]) for every verb that has them (a verb's own table wins over `[box]`). Keys may be
//! spelled with `-` or `_`. Values: strings, integers and floats for options, booleans for
//! switches, an integer for `verbose`, arrays (or one value) for repeatable options.
//!
//! Precedence: command-line flag > environment variable > config file > built-in default. It
//! falls out of clap's own order: each config value becomes the argument's *default value*, and
//! clap applies a default only when neither the command line nor the argument's env var gave
//! one (the arg's `value_source()` would otherwise be `CommandLine` or `EnvVariable`).
//!
//! Every value is checked with the argument's own value parser before it is used, so a bad file
//! is one [`ConfigError`] naming the file, the table and the key (exit 2), never a panic. Values
//! of secret arguments (those whose env var values are hidden) are never echoed; nor is the text
//! of the file when it does not parse.
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, ArgMatches, Args, Command, CommandFactory, FromArgMatches};

use super::{BoxArgs, Cli};

/// The id of the global `--config` argument.
const CONFIG_ID: &str = "config";
/// The id of the global `--log-format` argument (to report config errors in the right format).
const LOG_FORMAT_ID: &str = "log_format";

/// Why the config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML (the offending text is not shown: it may hold a secret).
    #[error("config file {}: not valid TOML at line {line}, column {column}: {message}", path.display())]
    Parse {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A key no table of that name accepts.
    #[error("config file {}: unknown key `{key}` in {table} (valid keys: {valid})", path.display())]
    UnknownKey {
        /// The config file.
        path: PathBuf,
        /// `[migrate]`, `[box]`, or `the top level`.
        table: String,
        /// The key as written.
        key: String,
        /// The keys that table accepts.
        valid: String,
    },
    /// A value of the wrong TOML type.
    #[error("config file {}: key `{key}` in {table}: expected {expected}, found {found}", path.display())]
    WrongType {
        /// The config file.
        path: PathBuf,
        /// The table.
        table: String,
        /// The key.
        key: String,
        /// What the argument takes.
        expected: &'static str,
        /// The TOML type found.
        found: &'static str,
    },
    /// A value the argument's parser refuses.
    #[error("config file {}: key `{key}` in {table}: {reason}", path.display())]
    InvalidValue {
        /// The config file.
        path: PathBuf,
        /// The table.
        table: String,
        /// The key.
        key: String,
        /// Why (without the value for secret arguments).
        reason: String,
    },
}

/// Why the command line could not be turned into a [`Cli`].
#[derive(Debug)]
pub enum Failure {
    /// clap's own outcome (usage error, `--help`, `--version`): `exit()` prints it as clap does.
    Clap(clap::Error),
    /// The config file is unusable.
    Config {
        /// What is wrong.
        error: ConfigError,
        /// `--log-format json` was asked for on the command line or in the environment.
        json: bool,
    },
}

/// boxlift's command line with its config file applied: the table `[box]` holds [`BoxArgs`].
pub fn parse_cli<I, T>(argv: I) -> Result<Cli, Failure>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let shared = [("box", BoxArgs::augment_args(Command::new("box")))];
    parse_with_config::<Cli, _, _>(argv, &shared)
}

/// Parse `argv` into `C`, supplying values from the TOML file named by the global `config`
/// argument (if any). `shared` names extra tables whose keys are the args of the given command
/// and which apply to every verb that has those args.
pub fn parse_with_config<C, I, T>(argv: I, shared: &[(&str, Command)]) -> Result<C, Failure>
where
    C: CommandFactory + FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    let cmd = C::command();
    // First pass, with nothing required: where is the config file, which verb runs? Any error
    // here (unknown flag, --help) is reported by the real parse below, exactly as without config.
    let first = relax(cmd.clone()).try_get_matches_from(&argv).ok();
    let path = first.as_ref().and_then(config_path);
    let (Some(first), Some(path)) = (first, path) else {
        return finish::<C>(cmd, &argv);
    };
    let json = first
        .try_get_raw(LOG_FORMAT_ID)
        .ok()
        .flatten()
        .and_then(|mut v| v.next())
        .is_some_and(|v| v == "json");
    let fail = |error| Failure::Config { error, json };
    let text = std::fs::read_to_string(&path).map_err(|source| {
        fail(ConfigError::Read {
            path: path.clone(),
            source,
        })
    })?;
    let file = ConfigFile::parse(&path, &text, &cmd, shared).map_err(fail)?;
    let verb = first.subcommand_name().map(str::to_owned);
    finish::<C>(file.apply(cmd, verb.as_deref()), &argv)
}

fn finish<C: FromArgMatches>(cmd: Command, argv: &[OsString]) -> Result<C, Failure> {
    let matches = cmd.try_get_matches_from(argv).map_err(Failure::Clap)?;
    C::from_arg_matches(&matches).map_err(Failure::Clap)
}

/// The config path given on the command line or in the environment (root or verb level: a
/// global arg may be written after the verb).
fn config_path(m: &ArgMatches) -> Option<PathBuf> {
    let own = m.try_get_one::<PathBuf>(CONFIG_ID).ok().flatten().cloned();
    own.or_else(|| m.subcommand().and_then(|(_, sub)| config_path(sub)))
}

/// The command with no argument required (first pass only).
fn relax(cmd: Command) -> Command {
    cmd.mut_args(|a| a.required(false)).mut_subcommands(relax)
}

/// The config key of an argument: its long name, or for a positional its id, with `-`.
fn key_of(arg: &Arg) -> String {
    arg.get_long()
        .map(str::to_owned)
        .unwrap_or_else(|| arg.get_id().as_str().replace('_', "-"))
}

/// Arguments a config file may not set.
fn settable(arg: &Arg) -> bool {
    let id = arg.get_id().as_str();
    id != CONFIG_ID
        && id != "help"
        && id != "version"
        && !matches!(arg.get_action(), ArgAction::Help | ArgAction::Version)
}

/// The arguments of one table, by config key.
fn table_args<'a>(args: impl Iterator<Item = &'a Arg>) -> BTreeMap<String, &'a Arg> {
    args.filter(|a| settable(a))
        .map(|a| (key_of(a), a))
        .collect()
}

/// A parsed, checked config file: argument id → values, per table.
#[derive(Debug, Default)]
struct ConfigFile {
    /// Top-level keys: the global args.
    global: Vec<(String, Vec<String>)>,
    /// `[verb]` tables.
    verbs: BTreeMap<String, Vec<(String, Vec<String>)>>,
    /// Shared tables (`[box]`), in the order given.
    shared: Vec<Vec<(String, Vec<String>)>>,
}

impl ConfigFile {
    /// Parse and check every table and key against the command (the verbs not running too, so
    /// a typo in `[verify]` shows up while running `migrate`).
    fn parse(
        path: &Path,
        text: &str,
        cmd: &Command,
        shared: &[(&str, Command)],
    ) -> Result<ConfigFile, ConfigError> {
        let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
            ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        let globals = table_args(cmd.get_arguments().filter(|a| a.is_global_set()));
        let verbs: BTreeMap<String, BTreeMap<String, &Arg>> = cmd
            .get_subcommands()
            .map(|sc| {
                let args = table_args(sc.get_arguments().filter(|a| !a.is_global_set()));
                (sc.get_name().to_string(), args)
            })
            .collect();
        let shared_args: Vec<(&str, BTreeMap<String, &Arg>)> = shared
            .iter()
            .map(|(name, c)| (*name, table_args(c.get_arguments())))
            .collect();
        let mut out = ConfigFile {
            shared: vec![Vec::new(); shared.len()],
            ..ConfigFile::default()
        };
        let top = "the top level".to_string();
        for (raw_key, value) in &doc {
            let key = raw_key.replace('_', "-");
            if let Some(arg) = globals.get(&key) {
                out.global.push(checked(path, &top, raw_key, arg, value)?);
                continue;
            }
            let table = match value {
                toml::Value::Table(t) => Some(t),
                _ => None,
            };
            let target: Option<(&BTreeMap<String, &Arg>, &mut Vec<_>)> =
                if let Some(args) = verbs.get(&key) {
                    Some((args, out.verbs.entry(key.clone()).or_default()))
                } else {
                    shared_args
                        .iter()
                        .position(|(n, _)| *n == key)
                        .map(|i| (&shared_args[i].1, &mut out.shared[i]))
                };
            let Some((args, into)) = target else {
                let mut valid: Vec<String> = globals.keys().cloned().collect();
                valid.extend(verbs.keys().map(|v| format!("[{v}]")));
                valid.extend(shared_args.iter().map(|(n, _)| format!("[{n}]")));
                return Err(ConfigError::UnknownKey {
                    path: path.to_owned(),
                    table: top,
                    key: raw_key.clone(),
                    valid: valid.join(", "),
                });
            };
            let name = format!("[{key}]");
            let Some(table) = table else {
                return Err(ConfigError::WrongType {
                    path: path.to_owned(),
                    table: top,
                    key: raw_key.clone(),
                    expected: "a table",
                    found: value.type_str(),
                });
            };
            for (raw, v) in table {
                let Some(arg) = args.get(&raw.replace('_', "-")) else {
                    return Err(ConfigError::UnknownKey {
                        path: path.to_owned(),
                        table: name,
                        key: raw.clone(),
                        valid: args.keys().cloned().collect::<Vec<_>>().join(", "),
                    });
                };
                into.push(checked(path, &name, raw, arg, v)?);
            }
        }
        Ok(out)
    }

    /// The command with the file's values as defaults of the running verb's arguments.
    fn apply(self, mut cmd: Command, verb: Option<&str>) -> Command {
        for (id, values) in self.global {
            cmd = cmd.mut_arg(id, |a| with_default(a, values));
        }
        let Some(verb) = verb else { return cmd };
        let Some(sc) = cmd.find_subcommand(verb) else {
            return cmd;
        };
        let own: Vec<String> = sc.get_arguments().map(|a| a.get_id().to_string()).collect();
        // Shared tables first, the verb's own table last so it wins.
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for table in self.shared {
            values.extend(table.into_iter().filter(|(id, _)| own.contains(id)));
        }
        values.extend(
            self.verbs
                .into_iter()
                .filter(|(v, _)| v == verb)
                .flat_map(|(_, t)| t),
        );
        cmd.mut_subcommand(verb, |mut sc| {
            for (id, vals) in values {
                sc = sc.mut_arg(id, |a| with_default(a, vals));
            }
            sc
        })
    }
}

/// The argument with the config's values as its default (so flags and env still win).
fn with_default(arg: Arg, values: Vec<String>) -> Arg {
    let takes_values = arg.get_action().takes_values();
    let secret = arg.is_hide_env_values_set();
    let mut arg = arg.required(false);
    if takes_values && secret {
        arg = arg.hide_default_value(true);
    }
    arg.default_values(values)
}

/// The TOML value as the argument's values, checked by the argument's own value parser.
fn checked(
    path: &Path,
    table: &str,
    key: &str,
    arg: &Arg,
    value: &toml::Value,
) -> Result<(String, Vec<String>), ConfigError> {
    let wrong = |expected| ConfigError::WrongType {
        path: path.to_owned(),
        table: table.to_owned(),
        key: key.to_owned(),
        expected,
        found: value.type_str(),
    };
    let scalar = |v: &toml::Value| match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        _ => None,
    };
    let values = match (arg.get_action(), value) {
        (ArgAction::SetTrue | ArgAction::SetFalse, toml::Value::Boolean(b)) => vec![b.to_string()],
        (ArgAction::SetTrue | ArgAction::SetFalse, _) => return Err(wrong("a boolean")),
        (ArgAction::Count, toml::Value::Integer(i)) => vec![i.to_string()],
        (ArgAction::Count, _) => return Err(wrong("an integer")),
        (ArgAction::Append, toml::Value::Array(items)) => items
            .iter()
            .map(scalar)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| wrong("an array of strings or numbers"))?,
        (ArgAction::Append, v) => {
            vec![scalar(v).ok_or_else(|| wrong("a string, a number or an array"))?]
        }
        (_, v) => vec![scalar(v).ok_or_else(|| wrong("a string or a number"))?],
    };
    for v in &values {
        if let Err(reason) = parse_one(arg, v) {
            return Err(ConfigError::InvalidValue {
                path: path.to_owned(),
                table: table.to_owned(),
                key: key.to_owned(),
                reason,
            });
        }
    }
    Ok((arg.get_id().to_string(), values))
}

/// Run one value through the argument's value parser (clap keeps `parse_ref` private, so a
/// one-argument command does it), and say why it is refused without echoing secrets.
fn parse_one(arg: &Arg, value: &str) -> Result<(), String> {
    let mut probe = Arg::new("value")
        .long("value")
        .action(ArgAction::Append)
        .allow_hyphen_values(true)
        .value_parser(arg.get_value_parser().clone());
    if let Some(d) = arg.get_value_delimiter() {
        probe = probe.value_delimiter(d);
    }
    let cmd = Command::new("config").no_binary_name(true).arg(probe);
    let Err(err) = cmd.try_get_matches_from([format!("--value={value}")]) else {
        return Ok(());
    };
    let shown = if arg.is_hide_env_values_set() {
        "invalid value (not shown: secret)".to_string()
    } else {
        format!("invalid value {value:?}")
    };
    if let Some(ContextValue::Strings(valid)) = err.get(ContextKind::ValidValue) {
        return Err(format!("{shown} (possible values: {})", valid.join(", ")));
    }
    if let Some(source) = std::error::Error::source(&err) {
        return Err(format!("{shown}: {source}"));
    }
    Err(match err.kind() {
        ErrorKind::InvalidValue => shown,
        kind => format!("{shown}: {kind}"),
    })
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..text.floor_char_boundary(offset.min(text.len()))];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Parser, Subcommand, ValueEnum};

    #[derive(Debug, Parser)]
    struct T {
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[arg(short, long, action = ArgAction::Count, global = true)]
        verbose: u8,
        #[command(subcommand)]
        cmd: Sub,
    }

    #[derive(Debug, Subcommand)]
    enum Sub {
        Run(RunArgs),
        Other {
            #[arg(long, default_value_t = 1)]
            level: u32,
            #[command(flatten)]
            conn: Conn,
        },
        Plain {
            #[arg(long)]
            only_here: bool,
        },
    }

    #[derive(Debug, Clone, Copy, PartialEq, ValueEnum)]
    enum Mode {
        Fast,
        Safe,
    }

    #[derive(Debug, clap::Args)]
    struct RunArgs {
        src: PathBuf,
        #[arg(long)]
        dest: String,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        // PATH is set in every test environment: a real env var without mutating the process
        // environment (which is unsound while other test threads read it).
        #[arg(long, env = "PATH")]
        from_env: Option<String>,
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        exclude: Vec<String>,
        #[arg(long, value_enum, default_value_t = Mode::Safe)]
        mode: Mode,
        #[command(flatten)]
        conn: Conn,
    }

    #[derive(Debug, Clone, clap::Args)]
    struct Conn {
        #[arg(long, default_value = "https://built-in")]
        api_url: String,
        #[arg(long, env = "BOXLIFT_TEST_NEVER_SET_SECRET", hide_env_values = true)]
        secret: Option<u32>,
    }

    struct File {
        _dir: tempfile::TempDir,
        path: PathBuf,
    }

    fn file(text: &str) -> File {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("boxlift.toml");
        std::fs::write(&path, text).unwrap();
        File { _dir: dir, path }
    }

    fn parse(f: Option<&File>, args: &[&str]) -> Result<T, Failure> {
        let shared = [("conn", Conn::augment_args(Command::new("conn")))];
        let mut argv: Vec<OsString> = vec!["t".into()];
        if let Some(f) = f {
            argv.push("--config".into());
            argv.push(f.path.clone().into());
        }
        argv.extend(args.iter().map(OsString::from));
        parse_with_config::<T, _, _>(argv, &shared)
    }

    fn run_args(t: T) -> RunArgs {
        match t.cmd {
            Sub::Run(r) => r,
            other => panic!("not run: {other:?}"),
        }
    }

    fn config_error(r: Result<T, Failure>) -> ConfigError {
        match r {
            Err(Failure::Config { error, .. }) => error,
            Err(Failure::Clap(e)) => panic!("clap error instead: {e}"),
            Ok(t) => panic!("parsed: {t:?}"),
        }
    }

    #[test]
    fn flag_beats_env_beats_file_beats_default() {
        let path_env = std::env::var("PATH").expect("PATH is set");
        // Built-in default.
        let r = run_args(parse(None, &["run", "s", "--dest", "1"]).unwrap());
        assert_eq!(r.concurrency, 16);
        assert_eq!(r.conn.api_url, "https://built-in");
        // File beats default.
        let f = file(
            "[run]\nconcurrency = 4\nfrom-env = \"from-file\"\n[conn]\napi_url = \"https://file\"\n",
        );
        let r = run_args(parse(Some(&f), &["run", "s", "--dest", "1"]).unwrap());
        assert_eq!(r.concurrency, 4);
        assert_eq!(r.conn.api_url, "https://file");
        // Env beats file.
        assert_eq!(r.from_env.as_deref(), Some(path_env.as_str()));
        // Flag beats env and file.
        let r = run_args(
            parse(
                Some(&f),
                &[
                    "run",
                    "s",
                    "--dest",
                    "1",
                    "--concurrency",
                    "8",
                    "--from-env",
                    "flag",
                    "--api-url",
                    "https://flag",
                ],
            )
            .unwrap(),
        );
        assert_eq!(r.concurrency, 8);
        assert_eq!(r.from_env.as_deref(), Some("flag"));
        assert_eq!(r.conn.api_url, "https://flag");
    }

    #[test]
    fn file_supplies_required_args_switches_arrays_and_enums() {
        let f = file(
            "verbose = 2\n[run]\nsrc = \"/data/share\"\ndest = 12345\ndry_run = true\n\
             exclude = [\"*.tmp\", \"cache/**\"]\nmode = \"fast\"\n",
        );
        // --config after the verb works as well: it is a global arg.
        let t = parse(None, &["run", "--config", f.path.to_str().unwrap()]).unwrap();
        assert_eq!(t.verbose, 2);
        let r = run_args(t);
        assert_eq!(r.src, Path::new("/data/share"));
        assert_eq!(r.dest, "12345");
        assert!(r.dry_run);
        assert_eq!(r.exclude, ["*.tmp", "cache/**"]);
        assert_eq!(r.mode, Mode::Fast);
        // The command line still wins, for positionals, counts and repeatable args too.
        let t = parse(
            Some(&f),
            &["-v", "run", "/other", "--exclude", "x", "--mode", "safe"],
        )
        .unwrap();
        assert_eq!(t.verbose, 1);
        let r = run_args(t);
        assert_eq!(r.src, Path::new("/other"));
        assert_eq!(r.exclude, ["x"]);
        assert_eq!(r.mode, Mode::Safe);
        // A single value for a repeatable arg is fine.
        let f = file("[run]\nsrc = \"s\"\ndest = \"1\"\nexclude = \"*.bak\"\n");
        assert_eq!(
            run_args(parse(Some(&f), &["run"]).unwrap()).exclude,
            ["*.bak"]
        );
        // Without the file, a required arg is still required.
        assert!(matches!(parse(None, &["run"]), Err(Failure::Clap(_))));
    }

    #[test]
    fn shared_table_applies_where_the_args_exist_and_the_verb_table_wins() {
        let f = file(
            "[conn]\napi-url = \"https://shared\"\nsecret = 7\n\
             [other]\napi-url = \"https://own\"\n[plain]\nonly-here = true\n",
        );
        let r = run_args(parse(Some(&f), &["run", "s", "--dest", "1"]).unwrap());
        assert_eq!(r.conn.api_url, "https://shared");
        assert_eq!(r.conn.secret, Some(7));
        match parse(Some(&f), &["other"]).unwrap().cmd {
            Sub::Other { level, conn } => {
                assert_eq!(level, 1);
                assert_eq!(conn.api_url, "https://own");
            }
            other => panic!("{other:?}"),
        }
        // `plain` has no conn args: the shared table does not apply, and is no error.
        match parse(Some(&f), &["plain"]).unwrap().cmd {
            Sub::Plain { only_here } => assert!(only_here),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_keys_and_tables_name_the_file_and_the_valid_keys() {
        let f = file("[run]\nconcurency = 3\n");
        let e = config_error(parse(Some(&f), &["run", "s", "--dest", "1"]));
        let msg = e.to_string();
        assert!(matches!(e, ConfigError::UnknownKey { .. }), "{msg}");
        assert!(msg.contains(f.path.to_str().unwrap()), "{msg}");
        assert!(msg.contains("`concurency` in [run]"), "{msg}");
        assert!(
            msg.contains("valid keys: api-url, concurrency, dest"),
            "{msg}"
        );
        // A typo in another verb's table is caught too.
        let f = file("[other]\nlevl = 3\n");
        let msg = config_error(parse(Some(&f), &["run", "s", "--dest", "1"])).to_string();
        assert!(msg.contains("`levl` in [other]"), "{msg}");
        let f = file("[nosuch]\nx = 1\n");
        let msg = config_error(parse(Some(&f), &["run", "s", "--dest", "1"])).to_string();
        assert!(
            msg.contains("unknown key `nosuch` in the top level"),
            "{msg}"
        );
        assert!(
            msg.contains("verbose, [other], [plain], [run], [conn]"),
            "{msg}"
        );
        // `config` itself is not a key.
        let f = file("config = \"x\"\n");
        let e = config_error(parse(Some(&f), &["run", "s", "--dest", "1"]));
        assert!(matches!(e, ConfigError::UnknownKey { .. }), "{e}");
    }

    #[test]
    fn wrong_types_and_invalid_values_are_errors() {
        let cases: &[(&str, &str)] = &[
            (
                "[run]\ndry-run = \"yes\"\n",
                "`dry-run` in [run]: expected a boolean, found string",
            ),
            (
                "[run]\nconcurrency = [1]\n",
                "`concurrency` in [run]: expected a string or a number, found array",
            ),
            (
                "[run]\nexclude = [{a = 1}]\n",
                "`exclude` in [run]: expected an array of strings or numbers",
            ),
            (
                "verbose = true\n",
                "`verbose` in the top level: expected an integer, found boolean",
            ),
            (
                "run = 3\n",
                "`run` in the top level: expected a table, found integer",
            ),
            (
                "[run]\nconcurrency = -2\n",
                "`concurrency` in [run]: invalid value \"-2\"",
            ),
            (
                "[run]\nmode = \"turbo\"\n",
                "invalid value \"turbo\" (possible values: fast, safe)",
            ),
            (
                "verbose = 300\n",
                "`verbose` in the top level: invalid value \"300\"",
            ),
        ];
        for (text, want) in cases {
            let f = file(text);
            let msg = config_error(parse(Some(&f), &["run", "s", "--dest", "1"])).to_string();
            assert!(msg.contains(want), "{text:?}: {msg}");
            assert!(msg.contains(f.path.to_str().unwrap()), "{msg}");
        }
    }

    #[test]
    fn errors_never_echo_secret_values() {
        // A refused secret value.
        let f = file("[conn]\nsecret = \"hunter2-secret\"\n");
        let msg = config_error(parse(Some(&f), &["run", "s", "--dest", "1"])).to_string();
        assert!(
            msg.contains("`secret` in [conn]: invalid value (not shown: secret)"),
            "{msg}"
        );
        assert!(!msg.contains("hunter2"), "{msg}");
        // A broken line holding a secret: position only, no text of the file.
        let f = file("[conn]\nsecret = \"hunter2-secret\n");
        let e = config_error(parse(Some(&f), &["run", "s", "--dest", "1"]));
        let msg = e.to_string();
        assert!(matches!(e, ConfigError::Parse { line: 2, .. }), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    #[test]
    fn unreadable_file_is_an_error_and_help_is_clap_s() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let r = parse(
            None,
            &[
                "--config",
                missing.to_str().unwrap(),
                "run",
                "s",
                "--dest",
                "1",
            ],
        );
        let msg = config_error(r).to_string();
        assert!(msg.starts_with("cannot read config file "), "{msg}");
        assert!(msg.contains("nope.toml"), "{msg}");
        let f = file("[run]\nconcurrency = 4\n");
        match parse(Some(&f), &["run", "--help"]) {
            Err(Failure::Clap(e)) => assert_eq!(e.kind(), ErrorKind::DisplayHelp),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn boxlift_cli_takes_box_and_verb_tables() {
        let f = file(
            "log-format = \"json\"\n\
             [box]\napi-url = \"http://127.0.0.1:9/2.0\"\ndeveloper_token = \"t0k\"\nas-user = [\"11\", \"12\"]\n\
             [migrate]\nsrc = \"/data\"\ndest = \"0\"\nchunked-threshold = \"20MB\"\nprogress = \"lines\"\n\
             [verify]\nmanifest = \"/m.csv\"\ndest = \"0\"\nprogress = \"lines\"\nstatus-interval = 30\n\
             [scan]\nno-hash = true\n\
             [emulator]\nlisten = \"0.0.0.0:1\"\n[audit]\nbandwidth = \"1Gbit\"\n",
        );
        let argv = ["boxlift", "--config", f.path.to_str().unwrap(), "migrate"];
        let cli = match parse_cli(argv) {
            Ok(cli) => cli,
            Err(Failure::Clap(e)) => panic!("{e}"),
            Err(Failure::Config { error, .. }) => panic!("{error}"),
        };
        assert_eq!(cli.global.log_format, crate::cli::LogFormat::Json);
        match cli.command {
            crate::cli::Command::Migrate(m) => {
                assert_eq!(m.src, Path::new("/data"));
                assert_eq!(m.chunked_threshold, 20_000_000);
                assert_eq!(m.progress, crate::progress::ShowProgress::Lines);
                assert_eq!(m.box_args.api_url, "http://127.0.0.1:9/2.0");
                assert_eq!(m.box_args.as_user, ["11", "12"]);
                if std::env::var_os("BOX_DEVELOPER_TOKEN").is_none() {
                    assert_eq!(m.box_args.developer_token.as_deref(), Some("t0k"));
                }
            }
            other => panic!("{other:?}"),
        }
        let argv = ["boxlift", "--config", f.path.to_str().unwrap(), "verify"];
        match parse_cli(argv).map(|cli| cli.command) {
            Ok(crate::cli::Command::Verify(v)) => {
                assert_eq!(v.progress, crate::progress::ShowProgress::Lines);
                assert_eq!(v.status_interval, 30);
            }
            Ok(other) => panic!("{other:?}"),
            Err(_) => panic!("the config file does not parse for verify"),
        }
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("é\nx", 99), (2, 2));
    }
}
