use ror_search::engine::{Engine, SearchRequest};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let engine = Engine::open(std::path::Path::new(&args[1])).unwrap();
    let pairs: Vec<(String, String)> = args[3..]
        .iter()
        .map(|a| {
            let (k, v) = a.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let mut request = SearchRequest::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
    request.now = Some(1_795_000_000);
    let n: usize = args[2].parse().unwrap();
    let started = std::time::Instant::now();
    let mut total = 0;
    for _ in 0..n {
        total += engine.search(&request).unwrap().results.len();
    }
    eprintln!("{:.1} us/query ({total})", started.elapsed().as_secs_f64() * 1e6 / n as f64);
}
