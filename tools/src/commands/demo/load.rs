//! Generating the demo's messages on one thread and ingesting them on another.

use super::journey::messages;
use super::people::{person, Person};
use crate::error::ToolError;
use profiledb::engine::message::{parse_message, Message};
use profiledb::engine::profiles::Profiles;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

/// People generated per `ingest` call (about 33,000 messages: fewer, larger calls measured
/// faster).
const PEOPLE_PER_CALL: u32 = 10_000;

/// Identifiers the generator handed out (before identity resolution).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Identifiers {
    pub anonymous_ids: u64,
    pub device_ids: u64,
    pub user_ids: u64,
    pub emails: u64,
    /// Devices used by two people (a family computer).
    pub shared_devices: u64,
    /// Sign-ups with a placeholder email (`test@test.com`, `noreply@…`).
    pub placeholder_emails: u64,
}

impl Identifiers {
    fn add(&mut self, person: &Person) {
        let own_devices = person.devices.len() as u64 - u64::from(person.shares_first_device);
        self.anonymous_ids += own_devices;
        self.device_ids += own_devices;
        self.shared_devices += u64::from(person.shares_first_device);
        if let Some(account) = &person.account {
            self.user_ids += 1;
            if account.placeholder_email {
                self.placeholder_emails += 1;
            } else {
                self.emails += 1;
            }
        }
    }

    /// Every identifier value seen.
    pub(crate) fn total(&self) -> u64 {
        self.anonymous_ids + self.device_ids + self.user_ids + self.emails
    }
}

/// What loading did.
#[derive(Debug, Clone, Default)]
pub(crate) struct Loaded {
    pub people: u32,
    pub messages: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub profiles_created: u64,
    pub merges: u64,
    pub refused_links: u64,
    pub ignored_identifiers: u64,
    pub identifiers: Identifiers,
    pub elapsed: Duration,
}

/// One generated chunk: its messages (validated by the Tracking Spec parser) and the
/// identifiers they carry.
struct Chunk {
    messages: Vec<Message>,
    /// Generated messages the parser refused (none, unless the generator has a bug).
    invalid: u64,
    identifiers: Identifiers,
}

/// Generates `people` people with `seed` and ingests their messages.
pub(crate) fn generate_and_ingest(
    profiles: &Profiles,
    seed: u64,
    people: u32,
) -> Result<Loaded, ToolError> {
    let started = Instant::now();
    let (sender, receiver) = sync_channel::<Chunk>(4);
    let producer = std::thread::spawn(move || {
        let mut start = 0;
        while start < people {
            let end = people.min(start + PEOPLE_PER_CALL);
            let mut chunk = Chunk {
                messages: Vec::new(),
                invalid: 0,
                identifiers: Identifiers::default(),
            };
            for index in start..end {
                let person = person(seed, index);
                chunk.identifiers.add(&person);
                for json in messages(seed, &person) {
                    match parse_message(&json) {
                        Ok(message) => chunk.messages.push(message),
                        Err(_) => chunk.invalid += 1,
                    }
                }
            }
            if sender.send(chunk).is_err() {
                return; // the consumer stopped on an error
            }
            start = end;
        }
    });
    let mut loaded = Loaded {
        people,
        ..Loaded::default()
    };
    let result = receiver
        .iter()
        .try_for_each(|chunk| ingest_chunk(profiles, chunk, &mut loaded));
    drop(receiver);
    let _ = producer.join();
    result?;
    loaded.elapsed = started.elapsed();
    Ok(loaded)
}

fn ingest_chunk(profiles: &Profiles, chunk: Chunk, loaded: &mut Loaded) -> Result<(), ToolError> {
    let report = profiles
        .ingest(&chunk.messages)
        .map_err(ToolError::profiles("ingesting the demo messages"))?;
    loaded.messages += chunk.messages.len() as u64 + chunk.invalid;
    loaded.accepted += report.accepted as u64;
    loaded.rejected += report.rejected.len() as u64 + chunk.invalid;
    loaded.profiles_created += report.profiles_created as u64;
    loaded.merges += report.merges as u64;
    loaded.refused_links += report.refused_links as u64;
    loaded.ignored_identifiers += report.ignored_identifiers as u64;
    let ids = &mut loaded.identifiers;
    let add = chunk.identifiers;
    ids.anonymous_ids += add.anonymous_ids;
    ids.device_ids += add.device_ids;
    ids.user_ids += add.user_ids;
    ids.emails += add.emails;
    ids.shared_devices += add.shared_devices;
    ids.placeholder_emails += add.placeholder_emails;
    Ok(())
}
