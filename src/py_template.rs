//! Claims templates: what a verified-token cache hit copies its dict from.
//!
//! Every caller gets its own dict and its own nested dicts and lists (no
//! caller ever sees another's), sharing only the immutable leaves (str,
//! int, float, bool, None). A template records where its containers are
//! when it is made, so a copy clones the top table at once and then touches
//! only the containers: no walk over the leaves, no type checks per item.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// A dict kept private to the cache, and where its containers are.
pub struct Template {
    dict: Py<PyDict>,
    /// Member name and container, for each member holding a dict or list.
    nested: Vec<(Py<PyAny>, Container)>,
}

enum Container {
    Dict(Template),
    /// A list, and the index and container of each item that is one.
    List(Py<PyList>, Vec<(usize, Container)>),
}

impl Template {
    /// A template of `dict`, made of copies: later changes to `dict` (the
    /// first caller's own) never reach it.
    pub fn of(dict: &Bound<'_, PyDict>) -> PyResult<Self> {
        let copy = dict.copy()?;
        let mut nested = Vec::new();
        for (key, value) in dict.iter() {
            if let Some(container) = Container::of(&value)? {
                // The template holds its own containers, copies too.
                copy.set_item(&key, container.object(dict.py()))?;
                nested.push((key.unbind(), container));
            }
        }
        Ok(Self { dict: copy.unbind(), nested })
    }

    /// A new dict equal to the template, with new containers.
    pub fn copy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let copy = self.dict.bind(py).copy()?;
        for (key, container) in &self.nested {
            copy.set_item(key.bind(py), container.bind_new(py)?)?;
        }
        Ok(copy)
    }
}

impl Container {
    /// The template of `value` if it is a dict or list (copied), else `None`.
    fn of(value: &Bound<'_, PyAny>) -> PyResult<Option<Self>> {
        if let Ok(dict) = value.cast::<PyDict>() {
            return Ok(Some(Self::Dict(Template::of(dict)?)));
        }
        let Ok(list) = value.cast::<PyList>() else { return Ok(None) };
        let copy = list.get_slice(0, list.len());
        let mut nested = Vec::new();
        for (index, item) in list.iter().enumerate() {
            if let Some(container) = Self::of(&item)? {
                copy.set_item(index, container.object(list.py()))?;
                nested.push((index, container));
            }
        }
        Ok(Some(Self::List(copy.unbind(), nested)))
    }

    /// The template's own object (never handed to a caller).
    fn object<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        match self {
            Self::Dict(template) => template.dict.bind(py).clone().into_any(),
            Self::List(list, _) => list.bind(py).clone().into_any(),
        }
    }

    /// A new copy, for a caller.
    fn bind_new<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self {
            Self::Dict(template) => Ok(template.copy(py)?.into_any()),
            Self::List(list, nested) => {
                let list = list.bind(py);
                let copy = list.get_slice(0, list.len());
                for (index, container) in nested {
                    copy.set_item(*index, container.bind_new(py)?)?;
                }
                Ok(copy.into_any())
            }
        }
    }
}
