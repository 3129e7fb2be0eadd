//! Tests of `options.rs`.

use super::*;

#[test]
fn listen_addresses_parse() {
    let cases = [
        ("127.0.0.1:9000", Ok("127.0.0.1:9000")),
        ("[::1]:9000", Ok("[::1]:9000")),
        ("unix:/run/p.sock", Ok("unix:/run/p.sock")),
        ("unix:", Err(())),
        ("localhost:9000", Ok("localhost:9000")),
        ("web-1.example:80", Ok("web-1.example:80")),
        ("localhost", Err(())),
        ("localhost:99999", Err(())),
        ("local host:9000", Err(())),
        (":9000", Err(())),
        ("9000", Err(())),
    ];
    for (text, want) in cases {
        let got = text
            .parse::<ListenAddr>()
            .map(|a| a.to_string())
            .map_err(|_| ());
        assert_eq!(got, want.map(String::from), "{text}");
    }
}

#[test]
fn localhost_resolves_to_every_loopback_address_and_nothing_else() {
    let addrs = "localhost:9000"
        .parse::<ListenAddr>()
        .unwrap()
        .resolve()
        .unwrap();
    assert!(
        addrs.contains(&ListenAddr::Tcp("127.0.0.1:9000".parse().unwrap())),
        "{addrs:?}"
    );
    for addr in &addrs {
        let ListenAddr::Tcp(addr) = addr else {
            panic!("unresolved {addr}")
        };
        assert!(addr.ip().is_loopback() && addr.port() == 9000, "{addr}");
    }
    let ip = "127.0.0.1:9000".parse::<ListenAddr>().unwrap();
    assert_eq!(
        ip.resolve().unwrap(),
        vec![ip.clone()],
        "an IP stays as it is"
    );
}

#[test]
fn allow_list_compares_v4_v6_and_v4_mapped() {
    let list: AddrList = "127.0.0.1, ::1,[::ffff:10.0.0.1],".parse().unwrap();
    let options_list: Vec<IpAddr> = list.0.iter().map(IpAddr::to_canonical).collect();
    let cases = [
        ("127.0.0.1", true),
        ("::ffff:127.0.0.1", true),
        ("::1", true),
        ("10.0.0.1", true),
        ("::ffff:10.0.0.1", true),
        ("127.0.0.2", false),
        ("::2", false),
    ];
    for (peer, allowed) in cases {
        let peer: IpAddr = peer.parse().unwrap();
        assert_eq!(peer_allowed(&options_list, peer), allowed, "{peer}");
    }
    assert!(
        peer_allowed(&[], "192.0.2.1".parse().unwrap()),
        "empty list allows all"
    );
    assert!(
        "".parse::<AddrList>().unwrap().0.is_empty(),
        "empty variable"
    );
    assert!("127.0.0.1,nonsense".parse::<AddrList>().is_err());
}

#[test]
fn seconds_and_modes_parse() {
    assert_eq!(parse_seconds("0.25"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_seconds("30"), Ok(Duration::from_secs(30)));
    assert!(parse_seconds("-1").is_err());
    assert!(parse_seconds("soon").is_err());
    assert_eq!(parse_threshold("0.5"), Ok(Duration::from_millis(500)));
    for zero in ["0", "0.0", " 0 "] {
        let err = parse_threshold(zero).unwrap_err();
        assert!(err.contains("must be more than 0"), "{err}");
    }
    assert_eq!(parse_mode("660"), Ok(0o660));
    assert_eq!(parse_mode("0o600"), Ok(0o600));
    assert!(parse_mode("999").is_err());
    assert!(parse_count("0").is_err());
    assert_eq!(parse_memory("64M"), Ok(64 << 20));
    assert_eq!(parse_memory("512k"), Ok(512 << 10));
    assert_eq!(parse_memory("0"), Ok(0));
    assert_eq!(parse_memory("1G"), Ok(1 << 30));
    assert!(parse_memory("M").is_err());
    assert!(parse_memory("12X").is_err());
}

#[test]
fn sizes_parse_with_binary_suffixes_and_refuse_nonsense() {
    let cases = [
        ("1048576", Ok(1_048_576)),
        ("512k", Ok(524_288)),
        ("10M", Ok(10_485_760)),
        ("1G", Ok(1_073_741_824)),
        ("2 MiB", Ok(2_097_152)),
    ];
    for (text, want) in cases {
        assert_eq!(parse_size(text), want, "{text}");
    }
    for bad in ["", "ten", "10X", "99999999999999999999G", "-1"] {
        assert!(parse_size(bad).is_err(), "{bad:?} must be refused");
    }
}

#[test]
fn processes_default_to_a_pool_of_two_and_an_fd0_start_keeps_one_unless_asked() {
    use clap::Parser;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        options: FastcgiOptions,
    }
    let plain = Cli::parse_from(["x"]).options;
    assert_eq!(DEFAULT_PROCESSES, 2);
    assert_eq!(plain.process_count(false), 2);
    assert_eq!(plain.process_count(true), 1);
    let one = Cli::parse_from(["x", "--processes", "1"]).options;
    assert_eq!(one.process_count(false), 1);
    assert_eq!(one.process_count(true), 1);
    let asked = Cli::parse_from(["x", "--processes", "4"]).options;
    assert_eq!(asked.process_count(false), 4);
    assert_eq!(asked.process_count(true), 4);
    assert!(Cli::try_parse_from(["x", "--processes", "0"]).is_err());
}
