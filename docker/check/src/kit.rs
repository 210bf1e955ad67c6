//! Loaders for the files of the kit (`docker/`): YAML (one or several documents) as JSON
//! values, the compose services' environments, the Kubernetes containers' environments, the
//! dashboard's and the alert rules' expressions, and the Dockerfile's instructions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::Error;

/// The kit's folder, `docker/`.
pub fn docker_dir() -> PathBuf {
    crate::binaries::workspace_root().join("docker")
}

/// Reads a file of the kit, `relative` to `docker/`.
pub fn read(relative: &str) -> Result<String, Error> {
    let path = docker_dir().join(relative);
    std::fs::read_to_string(&path).map_err(|source| Error::Io { path, source })
}

/// Every document of a YAML text (`---` separated), merge keys (`<<`) applied, as JSON values.
pub fn yaml_documents(what: &str, text: &str) -> Result<Vec<Value>, Error> {
    let mut documents = Vec::new();
    for document in serde_norway::Deserializer::from_str(text) {
        let mut value = serde_norway::Value::deserialize(document).map_err(|e| Error::parse(what, e))?;
        value.apply_merge().map_err(|e| Error::parse(what, e))?;
        if value.is_null() {
            continue;
        }
        documents.push(serde_json::to_value(&value).map_err(|e| Error::parse(what, e))?);
    }
    Ok(documents)
}

/// A file of the kit holding exactly one YAML document.
pub fn yaml_file(relative: &str) -> Result<Value, Error> {
    let mut documents = yaml_documents(relative, &read(relative)?)?;
    match documents.len() {
        1 => Ok(documents.remove(0)),
        n => Err(Error::parse(relative, format!("{n} YAML documents, expected 1"))),
    }
}

/// `docker/compose.yaml`.
pub fn compose() -> Result<Value, Error> {
    yaml_file("compose.yaml")
}

/// A compose service's `environment`, in map or `KEY=value` list form.
pub fn compose_environment(service: &Value) -> BTreeMap<String, String> {
    match &service["environment"] {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), scalar(v))).collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|item| match item.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (item.to_owned(), String::new()),
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// A YAML scalar as text (`"5672"`, `5672` and `true` alike).
pub fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The files of `docker/k8s/` ending in `.yaml`, sorted.
pub fn k8s_files() -> Result<Vec<PathBuf>, Error> {
    k8s_files_in("k8s")
}

/// The files of the kit folder `relative` (e.g. `k8s/sharded`) ending in `.yaml`, sorted.
pub fn k8s_files_in(relative: &str) -> Result<Vec<PathBuf>, Error> {
    let dir = docker_dir().join(relative);
    let entries = std::fs::read_dir(&dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|source| Error::Io { path: dir.clone(), source })?.path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Every document of every file of `docker/k8s/`, with the file it comes from.
pub fn k8s_documents() -> Result<Vec<(PathBuf, Value)>, Error> {
    k8s_documents_in("k8s")
}

/// Every document of every file of the kit folder `relative`, with the file it comes from.
pub fn k8s_documents_in(relative: &str) -> Result<Vec<(PathBuf, Value)>, Error> {
    let mut all = Vec::new();
    for path in k8s_files_in(relative)? {
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
        for document in yaml_documents(&path.display().to_string(), &text)? {
            all.push((path.clone(), document));
        }
    }
    Ok(all)
}

/// The documents of `kind` among `documents`.
pub fn of_kind<'a>(documents: &'a [(PathBuf, Value)], kind: &str) -> Vec<&'a Value> {
    documents.iter().map(|(_, d)| d).filter(|d| d["kind"] == kind).collect()
}

/// The object of `kind` named `name` among `documents`.
pub fn named<'a>(documents: &'a [(PathBuf, Value)], kind: &str, name: &str) -> Option<&'a Value> {
    of_kind(documents, kind).into_iter().find(|d| d["metadata"]["name"] == name)
}

/// The environment variable names a Kubernetes container gets: its `env` entries and every key
/// of the ConfigMaps and Secrets its `envFrom` names (which must exist among `documents`).
pub fn container_environment(container: &Value, documents: &[(PathBuf, Value)]) -> Result<BTreeSet<String>, Error> {
    let mut names: BTreeSet<String> = container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["name"].as_str())
        .map(str::to_owned)
        .collect();
    for source in container["envFrom"].as_array().into_iter().flatten() {
        let prefix = source["prefix"].as_str().unwrap_or_default();
        let (kind, name) = if let Some(name) = source["configMapRef"]["name"].as_str() {
            ("ConfigMap", name)
        } else if let Some(name) = source["secretRef"]["name"].as_str() {
            ("Secret", name)
        } else {
            return Err(Error::parse("envFrom", format!("neither configMapRef nor secretRef: {source}")));
        };
        let object = named(documents, kind, name)
            .ok_or_else(|| Error::parse("envFrom", format!("{kind} {name} is not among the manifests")))?;
        for field in ["data", "stringData"] {
            if let Some(map) = object[field].as_object() {
                names.extend(map.keys().map(|k| format!("{prefix}{k}")));
            }
        }
    }
    Ok(names)
}

/// The PromQL of every query of the Grafana dashboard `relative` to `docker/`, with the title
/// of its panel: panels at the top and inside rows.
pub fn dashboard_queries(relative: &str) -> Result<Vec<(String, String)>, Error> {
    let dashboard: Value = serde_json::from_str(&read(relative)?).map_err(|e| Error::parse(relative, e))?;
    let mut queries = Vec::new();
    let mut panels: Vec<&Value> = dashboard["panels"].as_array().into_iter().flatten().collect();
    while let Some(panel) = panels.pop() {
        panels.extend(panel["panels"].as_array().into_iter().flatten());
        let title = panel["title"].as_str().unwrap_or_default();
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                queries.push((title.to_owned(), expr.to_owned()));
            }
        }
    }
    Ok(queries)
}

/// An alerting rule of `docker/prometheus/alerts.yml`.
#[derive(Debug, Clone)]
pub struct AlertRule {
    /// `alert:`, the alert's name.
    pub name: String,
    /// `expr:`, its PromQL.
    pub expr: String,
    /// The whole rule.
    pub rule: Value,
}

/// The alerting rules of every group of `docker/prometheus/alerts.yml`.
pub fn alert_rules() -> Result<Vec<AlertRule>, Error> {
    let file = yaml_file("prometheus/alerts.yml")?;
    let groups = file["groups"].as_array().ok_or_else(|| Error::parse("prometheus/alerts.yml", "no `groups` list"))?;
    let mut rules = Vec::new();
    for rule in groups.iter().flat_map(|g| g["rules"].as_array().into_iter().flatten()) {
        let (Some(name), Some(expr)) = (rule["alert"].as_str(), rule["expr"].as_str()) else {
            return Err(Error::parse("prometheus/alerts.yml", format!("a rule without `alert` and `expr`: {rule}")));
        };
        rules.push(AlertRule { name: name.to_owned(), expr: expr.to_owned(), rule: rule.clone() });
    }
    Ok(rules)
}

/// The Dockerfile's instructions: continuation lines joined, comments and blank lines dropped.
pub fn dockerfile_instructions(text: &str) -> Vec<String> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                instructions.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        instructions.push(current);
    }
    instructions
}

/// Variables a compose text interpolates without a default (`${NAME}`, `${NAME:?message}`,
/// `${NAME?message}`): they must come from `.env`. `$$` is a literal dollar.
pub fn compose_required_variables(text: &str) -> BTreeSet<String> {
    let text = text.replace("$$", "");
    let mut names = BTreeSet::new();
    for part in text.split("${").skip(1) {
        let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        let rest = &part[name.len()..];
        let has_default = rest.starts_with(":-") || rest.starts_with('-');
        if !name.is_empty() && !has_default {
            names.insert(name);
        }
    }
    names
}

/// The variables a `.env` file defines (`NAME=value` lines).
pub fn env_file_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_owned()))
        .collect()
}

/// Whether `path` (relative to `docker/` when it starts with `./`) exists.
pub fn kit_path_exists(path: &str) -> bool {
    let path = path.strip_prefix("./").unwrap_or(path);
    Path::new(&docker_dir()).join(path).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_yaml_with_merge_keys() {
        let text = "a: &base\n  x: 1\nb:\n  <<: *base\n  y: 2\n---\n---\nkind: Service\n";
        let docs = yaml_documents("test", text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["b"]["x"], 1);
        assert_eq!(docs[0]["b"]["y"], 2);
        assert_eq!(docs[1]["kind"], "Service");
        assert!(yaml_documents("test", "a: [").is_err());
    }

    #[test]
    fn compose_environment_in_both_forms() {
        let map: Value = serde_json::json!({"environment": {"A": "1", "B": 2}});
        let list: Value = serde_json::json!({"environment": ["A=1", "B=2=3", "C"]});
        assert_eq!(compose_environment(&map).get("B").map(String::as_str), Some("2"));
        let list = compose_environment(&list);
        assert_eq!(list.get("B").map(String::as_str), Some("2=3"));
        assert_eq!(list.get("C").map(String::as_str), Some(""));
    }

    #[test]
    fn dockerfile_continuations_are_joined() {
        let text = "# comment\nFROM a AS b\n\nRUN x \\\n    --y \\\n && z\nUSER 1\n";
        assert_eq!(dockerfile_instructions(text), ["FROM a AS b", "RUN x  --y  && z", "USER 1"]);
    }

    #[test]
    fn required_variables_have_no_default() {
        let text = "a: ${A}\nb: ${B:?set B}\nc: ${C:-x}\nd: ${D-x}\ne: $${E}\nf: ${F?no}\n";
        let names: Vec<String> = compose_required_variables(text).into_iter().collect();
        assert_eq!(names, ["A", "B", "F"]);
        let env: Vec<String> = env_file_names("# c\nA=1\n\nB = 2\n").into_iter().collect();
        assert_eq!(env, ["A", "B"]);
    }
}
