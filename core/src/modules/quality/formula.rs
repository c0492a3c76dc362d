//! The quality formulas: a small expression language over test-item keywords, such as
//! `(V - V0) * c * 56.1 / m` for an acid value.
//!
//! - Numbers (`56.1`, `1e-3`), keywords (`V0`, `AV`: a letter or `_`, then letters, digits,
//!   `_`), `+ - * / ^` (also `− × ÷` as typed from a Chinese keyboard, and full-width
//!   parentheses), comparisons `< <= > >= == !=` (1 or 0), parentheses.
//! - Functions: `avg min max sum` (one or more arguments), `abs sqrt ln log10 exp` (one),
//!   `round(x, places)` (GB/T 8170 rounding), `if(condition, then, else)` (only the branch
//!   taken is evaluated, so `if(m > 0, x / m, 0)` never divides by zero).
//!
//! A formula is parsed (tokens by `winnow`, precedence climbing here) and compiled to a flat
//! program with forward jumps only: it cannot loop, call out or allocate beyond its stack,
//! and its size is bounded by the 500-character source. Every error names its position (a
//! 1-based character column) so the form can point at it.

use std::collections::{BTreeMap, BTreeSet};

use winnow::ascii::digit1;
use winnow::combinator::{alt, opt};
use winnow::stream::LocatingSlice;
use winnow::token::{one_of, take_while};
use winnow::{ModalResult, Parser as _};

/// Longest formula source, in characters.
pub const MAX_LEN: usize = 500;
/// Deepest nesting of parentheses and calls.
const MAX_DEPTH: usize = 32;

/// Why a formula was refused or could not be evaluated. `at` is a 1-based character
/// column of the source (0 when the error is not at one place).
#[derive(Debug, Clone, PartialEq)]
pub struct FormulaError {
    pub kind: ErrorKind,
    pub at: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ErrorKind {
    Empty,
    TooLong,
    TooDeep,
    /// An unexpected character or token (`found`), with what would have fitted: `token`
    /// (any), `operand`, `operator` (or the end), `close` (a parenthesis), `comma`.
    Syntax {
        found: String,
        expected: &'static str,
    },
    UnknownKeyword(String),
    UnknownFunction(String),
    Arity {
        function: String,
        expected: &'static str,
    },
    /// The formula's own keyword, or a cycle through other formulas (the path).
    Cycle(Vec<String>),
    // evaluation
    DivisionByZero,
    /// `sqrt` of a negative number, `ln` of zero or less…
    Domain(&'static str),
    /// An input has no value yet.
    Missing(String),
    /// The result is infinite or not a number.
    NotFinite,
}

impl FormulaError {
    fn at(kind: ErrorKind, at: usize) -> Self {
        FormulaError { kind, at }
    }

    /// The catalogue key under `quality.formula.` and its arguments, for the user.
    pub fn message(&self) -> (&'static str, Vec<(&'static str, String)>) {
        use ErrorKind::*;
        let at = ("at", self.at.to_string());
        match &self.kind {
            Empty => ("empty", vec![]),
            TooLong => ("too_long", vec![("max", MAX_LEN.to_string())]),
            TooDeep => ("too_deep", vec![at, ("max", MAX_DEPTH.to_string())]),
            Syntax { found, expected } => (
                match *expected {
                    "close" => "syntax_close",
                    "comma" => "syntax_comma",
                    "operator" => "syntax_operator",
                    "operand" => "syntax_operand",
                    _ => "syntax_token",
                },
                vec![at, ("found", found.clone())],
            ),
            UnknownKeyword(k) => ("unknown_keyword", vec![at, ("keyword", k.clone())]),
            UnknownFunction(f) => ("unknown_function", vec![at, ("function", f.clone())]),
            Arity { function, expected } => (
                match *expected {
                    "1" => "arity_1",
                    "2" => "arity_2",
                    "3" => "arity_3",
                    _ => "arity_many",
                },
                vec![at, ("function", function.clone())],
            ),
            Cycle(path) => ("cycle", vec![("path", path.join(" → "))]),
            DivisionByZero => ("division_by_zero", vec![at]),
            Domain(f) => ("domain", vec![at, ("function", (*f).into())]),
            Missing(k) => ("missing", vec![("keyword", k.clone())]),
            NotFinite if self.at > 0 => ("not_finite_at", vec![at]),
            NotFinite => ("not_finite", vec![]),
        }
    }
}

impl std::fmt::Display for FormulaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (code, args) = self.message();
        write!(f, "{code}")?;
        for (k, v) in args {
            write!(f, " {k}={v}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- tokens

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Op(&'static str),
    Open,
    Close,
    Comma,
    End,
}

impl Tok {
    fn shown(&self) -> String {
        match self {
            Tok::Num(n) => n.to_string(),
            Tok::Ident(s) => s.clone(),
            Tok::Op(o) => (*o).to_string(),
            Tok::Open => "(".into(),
            Tok::Close => ")".into(),
            Tok::Comma => ",".into(),
            Tok::End => "end".into(),
        }
    }
}

type In<'a> = LocatingSlice<&'a str>;

fn number(i: &mut In<'_>) -> ModalResult<f64> {
    (
        digit1,
        opt(('.', opt(digit1))),
        opt((one_of(['e', 'E']), opt(one_of(['+', '-'])), digit1)),
    )
        .take()
        .try_map(str::parse::<f64>)
        // 1e999 is not a number a formula may hold
        .verify(|v: &f64| v.is_finite())
        .parse_next(i)
}

fn ident(i: &mut In<'_>) -> ModalResult<String> {
    (
        one_of(|c: char| c.is_ascii_alphabetic() || c == '_'),
        take_while(0.., |c: char| c.is_ascii_alphanumeric() || c == '_'),
    )
        .take()
        .map(str::to_string)
        .parse_next(i)
}

fn comparison(i: &mut In<'_>) -> ModalResult<Tok> {
    alt((
        alt(("<=", "≤")).value(Tok::Op("<=")),
        alt((">=", "≥")).value(Tok::Op(">=")),
        "==".value(Tok::Op("==")),
        alt(("!=", "≠")).value(Tok::Op("!=")),
        "<".value(Tok::Op("<")),
        ">".value(Tok::Op(">")),
    ))
    .parse_next(i)
}

fn symbol(i: &mut In<'_>) -> ModalResult<Tok> {
    alt((
        comparison,
        alt(("+", "＋")).value(Tok::Op("+")),
        alt(("-", "−", "－")).value(Tok::Op("-")),
        alt(("*", "×", "·", "＊")).value(Tok::Op("*")),
        alt(("/", "÷", "／")).value(Tok::Op("/")),
        "^".value(Tok::Op("^")),
        alt(("(", "（")).value(Tok::Open),
        alt((")", "）")).value(Tok::Close),
        alt((",", "，")).value(Tok::Comma),
    ))
    .parse_next(i)
}

/// The tokens with their byte spans; an unknown character is a syntax error at it.
fn tokens(src: &str) -> Result<Vec<(Tok, usize)>, FormulaError> {
    let mut input = LocatingSlice::new(src);
    let mut out = Vec::new();
    loop {
        let _ = take_while::<_, _, winnow::error::ContextError>(0.., |c: char| c.is_whitespace())
            .parse_next(&mut input);
        let start = src.len() - input.len();
        if input.is_empty() {
            out.push((Tok::End, start));
            return Ok(out);
        }
        let tok = alt((number.map(Tok::Num), ident.map(Tok::Ident), symbol)).parse_next(&mut input);
        match tok {
            Ok(t) => out.push((t, start)),
            Err(_) => {
                let c = src[start..].chars().next().unwrap_or(' ');
                return Err(FormulaError::at(
                    ErrorKind::Syntax {
                        found: c.to_string(),
                        expected: "token",
                    },
                    column(src, start),
                ));
            }
        }
    }
}

/// 1-based character column of a byte offset.
fn column(src: &str, byte: usize) -> usize {
    src[..byte.min(src.len())].chars().count() + 1
}

// ---------------------------------------------------------------- program

#[derive(Debug, Clone, Copy, PartialEq)]
enum Func {
    Avg,
    Min,
    Max,
    Sum,
    Abs,
    Sqrt,
    Ln,
    Log10,
    Exp,
    Round,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Num(f64),
    Var(u16),
    Neg,
    Add,
    Sub,
    Mul,
    /// Division, with the operator's column for the error.
    Div(u32),
    /// Power, with the operator's column for the error.
    Pow(u32),
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Call(Func, u16, u32),
    /// Pops; jumps forward to the index when it was 0.
    JumpIfZero(u32),
    Jump(u32),
}

/// A parsed, checked formula, ready to evaluate many times.
#[derive(Debug, Clone)]
pub struct Formula {
    src: String,
    code: Vec<Op>,
    /// The keywords it reads, in slot order (`Var(i)` reads `inputs[i]`).
    inputs: Vec<String>,
    /// Deepest the stack gets, so evaluation never grows it.
    depth: usize,
}

struct Compiler<'a> {
    src: &'a str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    code: Vec<Op>,
    inputs: Vec<String>,
    /// Parentheses and function calls open around the token being read.
    nest: usize,
    /// Recursion of `expr` (operators and signs too): bounded so parsing cannot exhaust
    /// the stack.
    depth: usize,
}

impl Formula {
    /// Parses `src`. Every keyword must satisfy `known` (a test item or another formula).
    pub fn parse(src: &str, known: &dyn Fn(&str) -> bool) -> Result<Formula, FormulaError> {
        let trimmed = src.trim();
        if trimmed.is_empty() {
            return Err(FormulaError::at(ErrorKind::Empty, 0));
        }
        if src.chars().count() > MAX_LEN {
            return Err(FormulaError::at(ErrorKind::TooLong, 0));
        }
        let mut p = Compiler {
            src,
            toks: tokens(src)?,
            pos: 0,
            code: Vec::new(),
            inputs: Vec::new(),
            nest: 0,
            depth: 0,
        };
        p.expr(0, known)?;
        if p.peek() != &Tok::End {
            return Err(p.unexpected("operator"));
        }
        let depth = stack_depth(&p.code);
        Ok(Formula {
            src: src.to_string(),
            code: p.code,
            inputs: p.inputs,
            depth,
        })
    }

    pub fn source(&self) -> &str {
        &self.src
    }

    /// The keywords it reads, each once, in slot order.
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// Evaluates with the inputs in slot order (`values[i]` for `inputs()[i]`).
    pub fn eval(&self, values: &[f64]) -> Result<f64, FormulaError> {
        let mut stack = Vec::with_capacity(self.depth);
        self.eval_with(values, &mut stack)
    }

    /// `eval` with a reusable stack (no allocation per evaluation).
    pub fn eval_with(&self, values: &[f64], stack: &mut Vec<f64>) -> Result<f64, FormulaError> {
        stack.clear();
        let mut pc = 0;
        while let Some(op) = self.code.get(pc) {
            pc += 1;
            match *op {
                Op::Num(n) => stack.push(n),
                Op::Var(i) => stack.push(
                    *values
                        .get(i as usize)
                        .ok_or_else(|| missing(&self.inputs[i as usize]))?,
                ),
                Op::Neg => {
                    let a = pop(stack);
                    stack.push(-a);
                }
                Op::JumpIfZero(to) => {
                    if pop(stack) == 0.0 {
                        pc = to as usize;
                    }
                }
                Op::Jump(to) => pc = to as usize,
                Op::Call(f, n, at) => {
                    let args = stack.split_off(stack.len() - n as usize);
                    let v = call(f, &args, at as usize)?;
                    stack.push(finite(v, at)?);
                }
                bin => {
                    let b = pop(stack);
                    let a = pop(stack);
                    let at = match bin {
                        Op::Pow(at) | Op::Div(at) => at,
                        _ => 0,
                    };
                    // every step stays finite: 10^400 or exp(1000) never hide in a comparison
                    stack.push(finite(
                        match bin {
                            Op::Add => a + b,
                            Op::Sub => a - b,
                            Op::Mul => a * b,
                            Op::Div(at) => {
                                if b == 0.0 {
                                    return Err(FormulaError::at(
                                        ErrorKind::DivisionByZero,
                                        at as usize,
                                    ));
                                }
                                a / b
                            }
                            Op::Pow(_) => a.powf(b),
                            Op::Lt => (a < b) as u8 as f64,
                            Op::Le => (a <= b) as u8 as f64,
                            Op::Gt => (a > b) as u8 as f64,
                            Op::Ge => (a >= b) as u8 as f64,
                            Op::Eq => {
                                ((a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)) as u8
                                    as f64
                            }
                            Op::Ne => {
                                ((a - b).abs() > 1e-12 * a.abs().max(b.abs()).max(1.0)) as u8 as f64
                            }
                            _ => unreachable!("every other op is handled above"),
                        },
                        at,
                    )?);
                }
            }
        }
        Ok(tidy(finite(pop(stack), 0)?))
    }

    /// Evaluates with the inputs looked up by keyword; a missing one is an error naming it.
    pub fn eval_by(&self, value: impl Fn(&str) -> Option<f64>) -> Result<f64, FormulaError> {
        let values = self
            .inputs
            .iter()
            .map(|k| value(k).ok_or_else(|| missing(k)))
            .collect::<Result<Vec<_>, _>>()?;
        self.eval(&values)
    }

    /// The source with keyword `from` renamed to `to` (whole keywords only).
    pub fn renamed(&self, from: &str, to: &str) -> String {
        let toks = tokens(&self.src).unwrap_or_default();
        let mut out = String::with_capacity(self.src.len());
        let mut last = 0;
        for (t, start) in toks {
            if let Tok::Ident(name) = &t
                && name == from
            {
                out.push_str(&self.src[last..start]);
                out.push_str(to);
                last = start + name.len();
            }
        }
        out.push_str(&self.src[last..]);
        out
    }
}

fn finite(v: f64, at: u32) -> Result<f64, FormulaError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(FormulaError::at(ErrorKind::NotFinite, at as usize))
    }
}

/// A computed value to 12 significant digits: binary arithmetic leaves tails such as
/// 5.050000000000001 for (5.15 − 0.10) × 0.1 × 56.1 ÷ 5.61, which GB/T 8170 rounding
/// would otherwise read as "above half". No laboratory reading has 12 significant digits.
pub fn tidy(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    format!("{v:.11e}").parse().unwrap_or(v)
}

fn missing(k: &str) -> FormulaError {
    FormulaError::at(ErrorKind::Missing(k.to_string()), 0)
}

fn pop(stack: &mut Vec<f64>) -> f64 {
    // compiled programs are balanced: a missing operand is a bug, shown as NaN → NotFinite
    stack.pop().unwrap_or(f64::NAN)
}

fn call(f: Func, a: &[f64], at: usize) -> Result<f64, FormulaError> {
    let domain = |name| Err(FormulaError::at(ErrorKind::Domain(name), at));
    Ok(match f {
        Func::Avg => a.iter().sum::<f64>() / a.len() as f64,
        Func::Sum => a.iter().sum(),
        Func::Min => a.iter().copied().fold(f64::INFINITY, f64::min),
        Func::Max => a.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Func::Abs => a[0].abs(),
        Func::Sqrt if a[0] < 0.0 => return domain("sqrt"),
        Func::Sqrt => a[0].sqrt(),
        Func::Ln if a[0] <= 0.0 => return domain("ln"),
        Func::Ln => a[0].ln(),
        Func::Log10 if a[0] <= 0.0 => return domain("log10"),
        Func::Log10 => a[0].log10(),
        Func::Exp => a[0].exp(),
        Func::Round => {
            let places = a[1];
            if places.fract() != 0.0 || !(-6.0..=10.0).contains(&places) {
                return domain("round");
            }
            round_gb(tidy(a[0]), places as i32)
        }
    })
}

/// Deepest the stack gets running `code` (jumps only skip forward over balanced parts).
fn stack_depth(code: &[Op]) -> usize {
    let (mut d, mut max) = (0i64, 0i64);
    for op in code {
        d += match op {
            Op::Num(_) | Op::Var(_) => 1,
            Op::Neg | Op::Jump(_) => 0,
            Op::JumpIfZero(_) => -1,
            Op::Call(_, n, _) => 1 - *n as i64,
            _ => -1,
        };
        max = max.max(d);
    }
    max.max(1) as usize
}

/// Binding power of the binary operators (higher binds tighter) and right associativity.
fn binary(op: &str) -> Option<(u8, bool)> {
    Some(match op {
        "<" | "<=" | ">" | ">=" | "==" | "!=" => (1, false),
        "+" | "-" => (2, false),
        "*" | "/" => (3, false),
        "^" => (5, true),
        _ => return None,
    })
}
const UNARY: u8 = 4;

impl Compiler<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn here(&self) -> usize {
        column(self.src, self.toks[self.pos].1)
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].0.clone();
        if t != Tok::End {
            self.pos += 1;
        }
        t
    }

    fn unexpected(&self, expected: &'static str) -> FormulaError {
        FormulaError::at(
            ErrorKind::Syntax {
                found: self.peek().shown(),
                expected,
            },
            self.here(),
        )
    }

    /// Precedence climbing: an operand, then binary operators binding tighter than `min`.
    fn expr(&mut self, min: u8, known: &dyn Fn(&str) -> bool) -> Result<(), FormulaError> {
        self.depth += 1;
        if self.depth > 8 * MAX_DEPTH {
            return Err(FormulaError::at(ErrorKind::TooDeep, self.here()));
        }
        self.operand(known)?;
        while let Tok::Op(op) = *self.peek() {
            let Some((bp, right)) = binary(op) else { break };
            if bp < min {
                break;
            }
            let at = self.here() as u32;
            self.next();
            self.expr(if right { bp } else { bp + 1 }, known)?;
            self.code.push(match op {
                "+" => Op::Add,
                "-" => Op::Sub,
                "*" => Op::Mul,
                "/" => Op::Div(at),
                "^" => Op::Pow(at),
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                ">=" => Op::Ge,
                "==" => Op::Eq,
                _ => Op::Ne,
            });
        }
        self.depth -= 1;
        Ok(())
    }

    fn operand(&mut self, known: &dyn Fn(&str) -> bool) -> Result<(), FormulaError> {
        let at = self.here();
        match self.next() {
            Tok::Num(n) => self.code.push(Op::Num(n)),
            Tok::Op("-") => {
                self.expr(UNARY, known)?;
                self.code.push(Op::Neg);
            }
            Tok::Op("+") => self.expr(UNARY, known)?,
            Tok::Open => {
                self.open(at)?;
                self.expr(0, known)?;
                self.close()?;
                self.nest -= 1;
            }
            Tok::Ident(name) if self.peek() == &Tok::Open => {
                self.next();
                self.open(at)?;
                self.call(&name, at, known)?;
                self.nest -= 1;
            }
            Tok::Ident(name) => {
                if !known(&name) {
                    return Err(FormulaError::at(ErrorKind::UnknownKeyword(name), at));
                }
                let slot = match self.inputs.iter().position(|k| *k == name) {
                    Some(i) => i,
                    None => {
                        self.inputs.push(name);
                        self.inputs.len() - 1
                    }
                };
                self.code.push(Op::Var(slot as u16));
            }
            other => {
                return Err(FormulaError::at(
                    ErrorKind::Syntax {
                        found: other.shown(),
                        expected: "operand",
                    },
                    at,
                ));
            }
        }
        Ok(())
    }

    /// One more level of parentheses or function call: at most `MAX_DEPTH`.
    fn open(&mut self, at: usize) -> Result<(), FormulaError> {
        self.nest += 1;
        if self.nest > MAX_DEPTH {
            return Err(FormulaError::at(ErrorKind::TooDeep, at));
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), FormulaError> {
        if self.peek() == &Tok::Close {
            self.next();
            Ok(())
        } else {
            Err(self.unexpected("close"))
        }
    }

    fn call(
        &mut self,
        name: &str,
        at: usize,
        known: &dyn Fn(&str) -> bool,
    ) -> Result<(), FormulaError> {
        let arity = |expected| {
            FormulaError::at(
                ErrorKind::Arity {
                    function: name.to_string(),
                    expected,
                },
                at,
            )
        };
        if name == "if" {
            // if(c, a, b): c; JumpIfZero else; a; Jump end; else: b; end:
            self.expr(0, known)?;
            self.comma(&arity)?;
            let jz = self.code.len();
            self.code.push(Op::JumpIfZero(0));
            self.expr(0, known)?;
            self.comma(&arity)?;
            let j = self.code.len();
            self.code.push(Op::Jump(0));
            self.code[jz] = Op::JumpIfZero(self.code.len() as u32);
            self.expr(0, known)?;
            self.code[j] = Op::Jump(self.code.len() as u32);
            if self.peek() != &Tok::Close {
                return Err(arity("3"));
            }
            return self.close();
        }
        let (f, expected): (Func, &'static str) = match name {
            "avg" => (Func::Avg, "many"),
            "min" => (Func::Min, "many"),
            "max" => (Func::Max, "many"),
            "sum" => (Func::Sum, "many"),
            "abs" => (Func::Abs, "1"),
            "sqrt" => (Func::Sqrt, "1"),
            "ln" => (Func::Ln, "1"),
            "log10" => (Func::Log10, "1"),
            "exp" => (Func::Exp, "1"),
            "round" => (Func::Round, "2"),
            _ => {
                return Err(FormulaError::at(
                    ErrorKind::UnknownFunction(name.to_string()),
                    at,
                ));
            }
        };
        let mut n = 0u16;
        if self.peek() != &Tok::Close {
            loop {
                self.expr(0, known)?;
                n += 1;
                if self.peek() == &Tok::Comma {
                    self.next();
                } else {
                    break;
                }
            }
        }
        self.close()?;
        let ok = match expected {
            "1" => n == 1,
            "2" => n == 2,
            _ => n >= 1,
        };
        if !ok {
            return Err(arity(expected));
        }
        self.code.push(Op::Call(f, n, at as u32));
        Ok(())
    }

    fn comma(&mut self, arity: &dyn Fn(&'static str) -> FormulaError) -> Result<(), FormulaError> {
        if self.peek() == &Tok::Comma {
            self.next();
            Ok(())
        } else if self.peek() == &Tok::Close {
            Err(arity("3"))
        } else {
            Err(self.unexpected("comma"))
        }
    }
}

/// The first cycle among formulas (output keyword → the keywords it reads), as a path
/// `a → b → a`; None when there is none.
pub fn find_cycle(graph: &BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    fn visit(
        k: &str,
        graph: &BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == k) {
            let mut cycle = path[i..].to_vec();
            cycle.push(k.to_string());
            return Some(cycle);
        }
        if done.contains(k) {
            return None;
        }
        path.push(k.to_string());
        for d in graph.get(k).into_iter().flatten() {
            if let Some(c) = visit(d, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(k.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for k in graph.keys() {
        if let Some(c) = visit(k, graph, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

/// Rounds to `places` decimals by GB/T 8170-2008 (四舍六入五成双): a dropped part above
/// half rounds up, below half down, exactly half to the even digit. Works on the shortest
/// decimal form of `x` (the digits a user entered), not on its binary value, so 2.675 to
/// two places is 2.68 as on paper. Negative `places` rounds to tens, hundreds….
pub fn round_gb(x: f64, places: i32) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let neg = x < 0.0;
    let s = format!("{}", x.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    // all digits, and where the decimal point sits among them
    let mut digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
    let point = int.len() as i32;
    let keep = point + places; // digits kept
    if keep < 0 {
        return 0.0;
    }
    let keep = keep as usize;
    if keep >= digits.len() {
        return x;
    }
    let first = digits[keep];
    let rest_nonzero = digits[keep + 1..].iter().any(|&d| d != 0);
    let last_kept_odd = keep > 0 && digits[keep - 1] % 2 == 1;
    let up = first > 5 || (first == 5 && (rest_nonzero || last_kept_odd));
    digits.truncate(keep);
    if up {
        let mut i = keep;
        loop {
            if i == 0 {
                digits.insert(0, 1);
                break;
            }
            i -= 1;
            if digits[i] == 9 {
                digits[i] = 0;
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    // the kept digits (one more when a carry added a leading 1) over 10^places
    let mut v = 0f64;
    for d in &digits {
        v = v * 10.0 + *d as f64;
    }
    let v = if places >= 0 {
        v / 10f64.powi(places)
    } else {
        v * 10f64.powi(-places)
    };
    // the division may leave a binary tail: print and re-read at the kept precision
    let v = if places > 0 {
        format!("{v:.*}", places as usize).parse().unwrap_or(v)
    } else {
        v
    };
    if neg { -v } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(k: &str) -> bool {
        ["V", "V0", "c", "m", "AV", "dry", "sample", "x"].contains(&k)
    }

    fn f(src: &str) -> Formula {
        Formula::parse(src, &known).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    fn err(src: &str) -> FormulaError {
        Formula::parse(src, &known).expect_err(src)
    }

    #[test]
    fn acid_value_and_solids_as_in_the_domain_notes() {
        let av = f("(V - V0) * c * 56.1 / m");
        assert_eq!(av.inputs(), ["V", "V0", "c", "m"]);
        let v = av.eval(&[12.5, 0.1, 0.1, 2.0]).unwrap();
        assert!((v - 34.782).abs() < 1e-9, "{v}");
        let solids = f("dry / sample × 100");
        assert!((solids.eval(&[0.652, 1.0]).unwrap() - 65.2).abs() < 1e-9);
        // typed from a Chinese keyboard: − × ÷ and full-width parentheses
        let v = f("（V − V0）× c × 56.1 ÷ m")
            .eval(&[12.5, 0.1, 0.1, 2.0])
            .unwrap();
        assert!((v - 34.782).abs() < 1e-9);
        // a keyword read twice has one slot
        assert_eq!(f("x * x + x").inputs(), ["x"]);
    }

    #[test]
    fn precedence_unary_power_and_comparisons() {
        let e = |s: &str| f(s).eval(&[]).unwrap();
        assert_eq!(e("1 + 2 * 3"), 7.0);
        assert_eq!(e("(1 + 2) * 3"), 9.0);
        assert_eq!(e("10 - 4 - 3"), 3.0);
        assert_eq!(e("2 ^ 3 ^ 2"), 512.0);
        assert_eq!(e("-2 ^ 2"), -4.0);
        assert_eq!(e("- -3"), 3.0);
        assert_eq!(e("1 < 2"), 1.0);
        assert_eq!(e("1 + 1 == 2"), 1.0);
        assert_eq!(e("0.1 + 0.2 == 0.3"), 1.0);
        assert_eq!(e("3 != 3"), 0.0);
        assert_eq!(e("1.5e2"), 150.0);
    }

    #[test]
    fn functions() {
        let e = |s: &str| f(s).eval(&[]).unwrap();
        assert_eq!(e("avg(1, 2, 3, 4)"), 2.5);
        assert_eq!(e("min(3, 1, 2) + max(3, 1, 2)"), 4.0);
        assert_eq!(e("sum(1, 2, 3)"), 6.0);
        assert_eq!(e("abs(-2)"), 2.0);
        assert_eq!(e("sqrt(16)"), 4.0);
        assert!((e("ln(exp(2))") - 2.0).abs() < 1e-12);
        assert_eq!(e("log10(1000)"), 3.0);
        assert_eq!(e("round(2.675, 2)"), 2.68);
        assert_eq!(e("if(1 > 2, 10, 20)"), 20.0);
        // only the branch taken runs: the guard keeps the division by zero out
        let g = f("if(m > 0, x / m, 0)");
        assert_eq!(g.inputs(), ["m", "x"]);
        assert_eq!(g.eval(&[0.0, 5.0]).unwrap(), 0.0);
        assert_eq!(g.eval(&[2.0, 5.0]).unwrap(), 2.5);
        assert_eq!(e("if(0, 1, if(1, 2, 3)) * 2"), 4.0);
    }

    #[test]
    fn refusals_name_the_position() {
        let e = err("(V - V0 * c");
        assert_eq!(e.at, 12);
        assert!(
            matches!(
                e.kind,
                ErrorKind::Syntax {
                    expected: "close",
                    ..
                }
            ),
            "{e:?}"
        );
        let e = err("V - W0");
        assert_eq!((e.kind, e.at), (ErrorKind::UnknownKeyword("W0".into()), 5));
        let e = err("V + * 2");
        assert_eq!(e.at, 5);
        assert!(
            matches!(&e.kind, ErrorKind::Syntax { found, .. } if found == "*"),
            "{e:?}"
        );
        let e = err("V 2");
        assert_eq!(e.at, 3);
        let e = err("V # 2");
        assert_eq!(e.at, 3);
        assert!(matches!(&e.kind, ErrorKind::Syntax { found, .. } if found == "#"));
        let e = err("foo(1)");
        assert_eq!(
            (e.kind, e.at),
            (ErrorKind::UnknownFunction("foo".into()), 1)
        );
        assert!(matches!(err("sqrt(1, 2)").kind, ErrorKind::Arity { .. }));
        assert!(matches!(err("round(1)").kind, ErrorKind::Arity { .. }));
        assert!(matches!(err("if(1, 2)").kind, ErrorKind::Arity { .. }));
        assert!(matches!(err("avg()").kind, ErrorKind::Arity { .. }));
        assert_eq!(err("   ").kind, ErrorKind::Empty);
        assert_eq!(err(&"1+".repeat(300)).kind, ErrorKind::TooLong);
        // 32 levels of parentheses or calls are allowed, the 33rd is refused where it opens
        let nested = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
        assert!(Formula::parse(&nested(MAX_DEPTH), &|_: &str| true).is_ok());
        let e = err(&nested(MAX_DEPTH + 1));
        assert_eq!((e.kind, e.at), (ErrorKind::TooDeep, MAX_DEPTH + 1));
        let calls = format!("{}1{}", "abs(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(Formula::parse(&calls, &|_: &str| true).is_ok());
        assert!(Formula::parse(&format!("1+{}", nested(MAX_DEPTH)), &|_: &str| true).is_ok());
        // Chinese characters count as one column each
        let e = err("（V − W0）");
        assert_eq!(e.at, 6);
    }

    #[test]
    fn evaluation_errors_are_errors_not_infinities() {
        let d = f("x / (m - 2)");
        let e = d.eval(&[1.0, 2.0]).unwrap_err();
        assert_eq!((e.kind, e.at), (ErrorKind::DivisionByZero, 3));
        assert_eq!(
            f("sqrt(x)").eval(&[-1.0]).unwrap_err().kind,
            ErrorKind::Domain("sqrt")
        );
        assert_eq!(
            f("ln(x)").eval(&[0.0]).unwrap_err().kind,
            ErrorKind::Domain("ln")
        );
        assert_eq!(
            f("exp(x)").eval(&[1000.0]).unwrap_err().kind,
            ErrorKind::NotFinite
        );
        assert_eq!(
            f("round(x, 0.5)").eval(&[1.0]).unwrap_err().kind,
            ErrorKind::Domain("round")
        );
        // no step may leave the finite numbers, even where a comparison would hide it
        let e = |s: &str| Formula::parse(s, &known).unwrap().eval(&[]).unwrap_err();
        assert_eq!(e("if(10 ^ 400 > 1, 1, 2)").kind, ErrorKind::NotFinite);
        assert_eq!(e("if(10 ^ 400 > 1, 1, 2)").at, 7);
        assert_eq!(e("min(exp(1000), 3)").kind, ErrorKind::NotFinite);
        assert_eq!(e("if((0 - 1) ^ 0.5 < 1, 1, 2)").kind, ErrorKind::NotFinite);
        assert!(
            Formula::parse("1e999 + 1", &known).is_err(),
            "a literal out of range"
        );
        // computed values lose binary tails before GB/T 8170 rounding reads them
        let av = f("(V - V0) * c * 56.1 / m")
            .eval(&[5.15, 0.10, 0.1, 5.61])
            .unwrap();
        assert_eq!(av, 5.05);
        assert_eq!(f("round(1.35 * 3, 1)").eval(&[]).unwrap(), 4.0);
        let e = f("V + V0")
            .eval_by(|k| (k == "V").then_some(1.0))
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Missing("V0".into()));
    }

    #[test]
    fn cycles_are_found_with_their_path() {
        let mut g = BTreeMap::new();
        g.insert("AV".to_string(), vec!["V".to_string()]);
        g.insert("HV".to_string(), vec!["AV".to_string(), "W".to_string()]);
        assert_eq!(find_cycle(&g), None);
        g.insert("V".to_string(), vec!["HV".to_string()]);
        let c = find_cycle(&g).unwrap();
        assert_eq!(c.first(), c.last());
        assert_eq!(c.len(), 4, "{c:?}");
        let mut own = BTreeMap::new();
        own.insert("X".to_string(), vec!["X".to_string()]);
        assert_eq!(
            find_cycle(&own),
            Some(vec!["X".to_string(), "X".to_string()])
        );
    }

    #[test]
    fn renaming_a_keyword_rewrites_whole_keywords_only() {
        let av = f("(V - V0) * c * 56.1 / m + avg(V, 1)");
        assert_eq!(
            av.renamed("V", "Vs"),
            "(Vs - V0) * c * 56.1 / m + avg(Vs, 1)"
        );
    }

    #[test]
    fn gb_8170_rounding() {
        // GB/T 8170-2008 examples: above half up, below half down, half to even
        assert_eq!(round_gb(12.1498, 1), 12.1);
        assert_eq!(round_gb(12.1501, 1), 12.2);
        assert_eq!(round_gb(1.050, 1), 1.0);
        assert_eq!(round_gb(0.35, 1), 0.4);
        assert_eq!(round_gb(2.0501, 1), 2.1);
        assert_eq!(round_gb(2500.0, -3), 2000.0);
        assert_eq!(round_gb(3500.0, -3), 4000.0);
        assert_eq!(round_gb(-0.0365, 3), -0.036);
        assert_eq!(round_gb(9.96, 1), 10.0);
        assert_eq!(round_gb(99.5, 0), 100.0);
        assert_eq!(round_gb(0.0004, 2), 0.0);
        assert_eq!(round_gb(1234.5678, 6), 1234.5678);
    }
}
