//! The real control plane going away and coming back on the same address (etcd keeping the
//! data): the explorer's watches reconnect by themselves and see a change made afterwards.
//! In a binary of its own, so that no other test shares the server it restarts. (sim's
//! restart is in tests/live_watch.rs.)

mod support;

use support::Kubectl;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_come_back_after_the_real_api_server_restarts() {
    use kdrift::live::cluster;
    use kdrift::live::watch::{self, ConnectionState};
    use std::time::Duration;
    let Some(real) = support::real_server() else {
        return;
    };
    let Some(kubectl) = support::kubectl() else {
        return;
    };
    let ns = support::unique_name("restart");
    let k = Kubectl {
        bin: kubectl,
        kubeconfig: real.kubeconfig.clone(),
        cache: std::env::temp_dir().join(format!("{ns}-kubectl-cache")),
    };
    let objects = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {ns}}}\ndata: {{v: '0'}}\n"
    );
    let kc = k.clone();
    tokio::task::spawn_blocking(move || kc.ok(&["apply", "-f", "-"], Some(&objects)))
        .await
        .unwrap();
    let target = cluster::connect(Some(&real.kubeconfig), None)
        .await
        .unwrap();
    let served = cluster::discover(&target).await.unwrap();
    let kinds = vec![served.get("", "ConfigMap").unwrap().clone()];
    let namespaces: std::collections::BTreeSet<String> = [ns.clone()].into();
    let mut live = watch::start(&target, &kinds, &namespaces, Duration::from_millis(50)).await;
    let mut views = support::Views::new(&mut live.views);
    support::wait_view(&mut views, "first list", Duration::from_secs(5), |v| {
        support::value_of(v, "settings").as_deref() == Some("0")
    })
    .await;
    let restarted = tokio::task::spawn_blocking(move || real.restart())
        .await
        .unwrap();
    if !restarted {
        eprintln!(
            "SKIP: the real server was started by hand (KDRIFT_REAL_KUBECONFIG); not restarting it"
        );
        return;
    }
    // A change made after the restart reaches the view, and the kind is connected again.
    let kc = k.clone();
    let ns2 = ns.clone();
    tokio::task::spawn_blocking(move || {
        kc.ok(
            &[
                "patch",
                "cm",
                "settings",
                "-n",
                &ns2,
                "--type",
                "merge",
                "-p",
                r#"{"data":{"v":"1"}}"#,
            ],
            None,
        )
    })
    .await
    .unwrap();
    let took = support::wait_view(
        &mut views,
        "the change after the restart",
        Duration::from_secs(30),
        |v| {
            support::value_of(v, "settings").as_deref() == Some("1")
                && v.kinds
                    .iter()
                    .all(|k| matches!(k.state, ConnectionState::Connected { .. }))
        },
    )
    .await;
    eprintln!("seen {took:?} after the patch that followed the restart");
}
