//! One measurement as one line of JSON on stdout: what `benches/run.py` collects from this
//! program, the C bench and the Python bench alike (so the three share one format).

use std::fmt::Write;

pub struct Record {
    json: String,
}

impl Record {
    pub fn new(kind: &str, variant: &str) -> Self {
        let record = Self {
            json: String::from("{"),
        };
        record.text("kind", kind).text("variant", variant)
    }

    fn key(&mut self, key: &str) {
        if self.json.len() > 1 {
            self.json.push(',');
        }
        write!(self.json, "\"{key}\":").expect("writing to a String");
    }

    /// Keys and values here are the program's own words and file paths, never quotes or escapes.
    pub fn text(mut self, key: &str, value: &str) -> Self {
        debug_assert!(!value.contains(['"', '\\']));
        self.key(key);
        write!(self.json, "\"{value}\"").expect("writing to a String");
        self
    }

    pub fn int(mut self, key: &str, value: u64) -> Self {
        self.key(key);
        write!(self.json, "{value}").expect("writing to a String");
        self
    }

    pub fn float(mut self, key: &str, value: f64) -> Self {
        self.key(key);
        write!(self.json, "{value:e}").expect("writing to a String");
        self
    }

    pub fn print(mut self) {
        self.json.push('}');
        println!("{}", self.json);
    }
}
