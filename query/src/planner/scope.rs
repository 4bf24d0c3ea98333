//! Name resolution: which table column an identifier denotes, and the slots a plan fetches.

use std::cell::RefCell;

use profiledb_engine::value::ColumnType;
use sqlparser::ast::Ident;

use crate::error::QueryError;
use crate::parser::normalize_ident;

/// The columns visible to one SELECT, and the subset it has used so far (its input slots).
pub struct Scope {
    /// Names that qualify this table's columns (table name and alias).
    pub qualifiers: Vec<String>,
    /// Every column of the table.
    pub columns: Vec<(String, ColumnType)>,
    used: RefCell<Vec<usize>>,
    /// The enclosing query's scope, consulted only to report correlated references.
    pub outer: Option<Box<Scope>>,
    /// The column that equals the row id (`profile_id` of profiles and segments), if any.
    pub row_id_column: Option<String>,
}

/// What an identifier resolved to.
pub enum Resolved {
    /// A column of this scope, by table column index.
    Column(usize),
    /// A column of the enclosing query (a correlated reference).
    Outer(usize),
}

impl Scope {
    /// A scope over a table's columns.
    pub fn new(qualifiers: Vec<String>, columns: Vec<(String, ColumnType)>) -> Self {
        Scope {
            qualifiers,
            columns,
            used: RefCell::new(Vec::new()),
            outer: None,
            row_id_column: None,
        }
    }

    /// A copy of the names and columns (not the used slots), to serve as a subquery's outer scope.
    pub fn snapshot(&self) -> Scope {
        let mut copy = Scope::new(self.qualifiers.clone(), self.columns.clone());
        copy.row_id_column.clone_from(&self.row_id_column);
        copy
    }

    /// The slot of table column `index`, registering it as an input on first use.
    pub fn slot(&self, index: usize) -> usize {
        let mut used = self.used.borrow_mut();
        if let Some(slot) = used.iter().position(|&i| i == index) {
            return slot;
        }
        used.push(index);
        used.len() - 1
    }

    /// Name and type of the column in `slot`.
    pub fn slot_column(&self, slot: usize) -> Option<(String, ColumnType)> {
        let index = *self.used.borrow().get(slot)?;
        self.columns.get(index).cloned()
    }

    /// Every input column, in slot order.
    pub fn input_columns(&self) -> Vec<(String, ColumnType)> {
        self.used
            .borrow()
            .iter()
            .filter_map(|&i| self.columns.get(i).cloned())
            .collect()
    }

    /// Resolves a (possibly qualified) identifier chain.
    pub fn resolve(&self, parts: &[Ident]) -> Result<Resolved, QueryError> {
        if let Some(index) = self.lookup(parts) {
            return Ok(Resolved::Column(index));
        }
        if let Some(index) = self.outer.as_ref().and_then(|o| o.lookup(parts)) {
            return Ok(Resolved::Outer(index));
        }
        let position = parts.first().and_then(|p| {
            (p.span.start.line > 0).then_some(crate::error::Position {
                line: p.span.start.line,
                column: p.span.start.column,
            })
        });
        let text: Vec<&str> = parts.iter().map(|p| p.value.as_str()).collect();
        if parts.len() > 1 && !self.is_qualifier(&parts[0]) {
            return Err(QueryError::plan(
                format!(
                    "missing FROM-clause entry for table \"{}\" (and no column \"{}\")",
                    parts[0].value,
                    text.join(".")
                ),
                position,
            ));
        }
        Err(QueryError::plan(
            format!("column \"{}\" does not exist", text.join(".")),
            position,
        ))
    }

    fn is_qualifier(&self, ident: &Ident) -> bool {
        self.qualifiers.contains(&normalize_ident(ident))
    }

    /// Finds a column: `col`, `qualifier.col`, or a dotted column name like `address.city`.
    pub fn lookup(&self, parts: &[Ident]) -> Option<usize> {
        match parts {
            [] => None,
            [single] => self.find(single),
            [first, rest @ ..] if self.is_qualifier(first) => {
                if let [only] = rest {
                    return self.find(only);
                }
                self.find_dotted(rest)
            }
            all => self.find_dotted(all),
        }
    }

    fn find(&self, ident: &Ident) -> Option<usize> {
        let name = normalize_ident(ident);
        if let Some(i) = self.columns.iter().position(|(n, _)| *n == name) {
            return Some(i);
        }
        if ident.quote_style.is_none() {
            // Unquoted names are case-insensitive; accept a unique case-insensitive match.
            let mut matches = self
                .columns
                .iter()
                .enumerate()
                .filter(|(_, (n, _))| n.to_lowercase() == name);
            if let (Some((i, _)), None) = (matches.next(), matches.next()) {
                return Some(i);
            }
        }
        None
    }

    /// Dotted trait names (`address.city`) written without quotes.
    fn find_dotted(&self, parts: &[Ident]) -> Option<usize> {
        let joined: Vec<&str> = parts.iter().map(|p| p.value.as_str()).collect();
        let joined = joined.join(".");
        self.columns
            .iter()
            .position(|(n, _)| *n == joined)
            .or_else(|| {
                self.columns
                    .iter()
                    .position(|(n, _)| n.eq_ignore_ascii_case(&joined))
            })
    }
}
