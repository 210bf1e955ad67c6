//! The generator against the engine's own validator: every vote it calls valid is accepted
//! with the same fields, every garbage message is refused.

use vote_engine::decode::decode;
use vote_loadgen::generate::Stamp;
use vote_loadgen::model::validate;
use vote_loadgen::{Generator, GeneratorConfig, MessageKind};

#[test]
fn the_engine_accepts_exactly_the_valid_votes() {
    let config = GeneratorConfig {
        law_prefix: "law-enginev-".to_owned(),
        laws: 50,
        citizens: 100_000,
        zipf: 1.0,
        duplicate_ratio: 0.2,
        invalid_ratio: 0.3,
        envelope_ratio: 0.3,
        seed: 31,
        ..GeneratorConfig::default()
    };
    let mut generator = Generator::new(config).expect("generator");
    let mut messages = Vec::new();
    generator.fill(30_000, &mut messages);
    let stamp = Stamp::now();
    for message in &messages {
        let body = message.render(&stamp);
        match (message.kind, decode(&body)) {
            (MessageKind::Invalid(kind), Ok(vote)) => panic!("the engine accepted {kind:?}: {vote:?}"),
            (MessageKind::Invalid(_), Err(_)) => {}
            (kind, Err(rejection)) => {
                panic!("the engine refused {kind:?} ({rejection:?}): {}", String::from_utf8_lossy(&body))
            }
            (_, Ok(vote)) => {
                let ours = validate(&body).expect("the model accepts what the engine accepts");
                assert_eq!(
                    (vote.vote_hash, vote.citizen_id, vote.law_id, vote.choice.as_str()),
                    (ours.vote_hash, ours.citizen_id, ours.law_id, ours.choice.as_str())
                );
                assert_eq!(
                    vote.timestamp,
                    time::OffsetDateTime::parse(stamp.as_str(), &time::format_description::well_known::Rfc3339)
                        .unwrap()
                );
            }
        }
    }
}
